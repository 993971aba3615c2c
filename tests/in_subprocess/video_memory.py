"""A video streamed through an inverting 'network'; prints the frame count and the peak resident
memory in KiB (tests/test_video.py).

    python -m tests.in_subprocess.video_memory IN OUT
"""

import resource
import sys

from src.video import plan_output
from src.video_jobs import stylize_video
from src.video_probe import probe
source, target = sys.argv[1], sys.argv[2]
info = probe(source)
output = plan_output(source, target, info, crf=40)
result = stylize_video(source, output, info, lambda batch: 255 - batch, batch_size=4, progress=False)
print(result.frames, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
