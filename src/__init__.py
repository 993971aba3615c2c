"""Fast Style Transfer: the package behind style.py, evaluate.py, transform_video.py and export.py.

One module per concept: transform (the network), checkpoints (ours and the original's), pixels
(the 0..255 convention), images (image files), image_jobs (stylizing files), video (video files,
through ffmpeg), video_jobs (stylizing a video as a stream), stylize (the one forward path),
inference (its arithmetic, block by block), tiling (large images in tiles with whole-image statistics),
blend (colour preservation, strength), export (SavedModel, TFLite, ONNX), atomic (atomic writes),
devices (--device), cli (what the scripts share). Training (style.py): vgg (the loss network and
its weight files), losses, objective (the losses as a Keras model), dataset (training images),
train (the resumable run), train_state (the checkpoint directory), monitor (progress bar,
periodic checkpoints, Ctrl-C), summaries (TensorBoard), slow (--slow).
"""
