"""What the style.py tests share: a training command line."""


def train_args(data, directory, *extra, vgg="vgg_mat"):
    """style.py's arguments for a tiny run on the session's training data (conftest.py), in
    float32 whatever the machine (--precision auto would pick bfloat16 on CPUs with AMX)."""
    if "--precision" not in extra:
        extra = ("--precision", "float32", *extra)
    return [
        "--style", str(data["style"]), "--checkpoint-dir", str(directory), "--train-path", str(data["train"]),
        "--vgg-path", str(data[vgg]), "--image-size", "16", "--seed", "3", *extra,
    ]  # fmt: skip
