"""The pixel convention, in one place.

- Images travel through the project as float32 RGB arrays of shape (H, W, 3) or (B, H, W, 3)
  with values in 0..255 (not 0..1), channels last. The one exception is size: evaluate.py keeps
  8-bit photos as uint8 until a batch goes into the network, and a photo too large to stylize
  whole comes out of the Stylizer as uint8, made stripe by stripe (src/stylize.py), so that
  memory holds 3 bytes a pixel of it, not 12. Alpha, when an image has one, travels beside
  them untouched (see src/images.py).
- The transform network takes 0..255 at inference, as the original's evaluate.py and
  transform_video.py fed it, and returns tanh(x) * 150 + 127.5, i.e. about -22..277: the
  Stylizer and the exports clip that to 0..255, and `to_uint8` rounds it when it becomes 8-bit
  pixels, where the original truncated (and kept the extra rows and columns of sides that are not
  multiples of 4, src/transform.py).
- During training the original fed the network x / 255 (TRAINING_INPUT_SCALE). The instance norm
  right after the first bias-free convolution makes the two scales nearly equivalent (only the
  1e-3 epsilon sees the difference), which is why its checkpoints work at 0..255. We keep both
  behaviours so that published and newly trained checkpoints behave the same.
- The loss network (VGG19) sees 0..255 RGB minus the ImageNet mean (src/training/vgg.py).
"""

import numpy as np

TRAINING_INPUT_SCALE = 1.0 / 255.0


def to_uint8(images):
    """float 0..255 (any shape) -> uint8, clipped and rounded; uint8 comes back as it is."""
    if isinstance(images, np.ndarray) and images.dtype == np.uint8:
        return images
    return np.clip(np.rint(images), 0, 255).astype(np.uint8)
