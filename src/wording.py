"""How messages put numbers into words, so that every script says "1 frame" and "2 frames"."""


def counted(number, noun, plural=None):
    """`number` and `noun`, the noun in the plural (`noun` + "s" unless given) unless number is 1."""
    return f"{number} {noun if number == 1 else plural or noun + 's'}"


def some_names(paths, shown=3):
    """The names of the first `shown` paths, and "..." where there are more: "a.txt, b.srt, ..."."""
    return ", ".join(path.name for path in paths[:shown]) + (", ..." if len(paths) > shown else "")
