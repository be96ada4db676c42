from textstats import top_words, words


def test_words_drop_punctuation():
    assert words("cats, dogs; birds.") == ["cats", "dogs", "birds"]


def test_words_are_lower_cased():
    assert words("The cat saw THE dog") == ["the", "cat", "saw", "the", "dog"]


def test_top_words_counts_every_spelling():
    assert top_words("The cat. the dog! THE end.", 2) == [("the", 3), ("cat", 1)]
