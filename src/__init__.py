"""Fast Style Transfer: the package behind style.py, evaluate.py, transform_video.py and export.py.

One module per concept: transform (the network), checkpoints (ours and the original's), pixels
(the 0..255 convention), images (image files), image_jobs (stylizing files), video (video files,
through ffmpeg), video_jobs (stylizing a video as a stream), stylize (the one forward path),
devices (--device), cli (what the scripts share).
"""
