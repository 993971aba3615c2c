from src.wording import counted, some_names


def test_one_is_singular_and_every_other_count_plural():
    assert counted(1, "frame") == "1 frame"
    assert [counted(n, "frame") for n in (0, 2, 11)] == ["0 frames", "2 frames", "11 frames"]
    assert counted(3, "unreadable file") == "3 unreadable files"


def test_an_irregular_plural_is_given():
    assert counted(1, "process", "processes") == "1 process"
    assert counted(2, "process", "processes") == "2 processes"


def test_some_names_show_the_first_three_and_say_there_are_more():
    from pathlib import Path

    paths = [Path("clips") / name for name in ("a.txt", "b.srt", "c.jpg", "d.xml")]
    assert some_names(paths) == "a.txt, b.srt, c.jpg, ..."
    assert some_names(paths[:3]) == "a.txt, b.srt, c.jpg" and some_names(paths[:1], shown=1) == "a.txt"
