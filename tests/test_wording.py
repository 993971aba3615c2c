from src.wording import counted


def test_one_is_singular_and_every_other_count_plural():
    assert counted(1, "frame") == "1 frame"
    assert [counted(n, "frame") for n in (0, 2, 11)] == ["0 frames", "2 frames", "11 frames"]
    assert counted(3, "unreadable file") == "3 unreadable files"


def test_an_irregular_plural_is_given():
    assert counted(1, "process", "processes") == "1 process"
    assert counted(2, "process", "processes") == "2 processes"
