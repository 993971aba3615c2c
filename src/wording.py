"""How messages put numbers into words, so that every script says "1 frame" and "2 frames"."""


def counted(number, noun, plural=None):
    """`number` and `noun`, the noun in the plural (`noun` + "s" unless given) unless number is 1."""
    return f"{number} {noun if number == 1 else plural or noun + 's'}"
