"""The error hierarchy survives pickling (errors cross process boundaries) with its reason."""
from __future__ import annotations

import pickle

import pytest

from newsmon.index.core import errors
from newsmon.index.core.errors import NewsmonError

# every class the module exports, so a new error class is covered without being listed here
CLASSES = [getattr(errors, name) for name in errors.__all__]


def test_the_hierarchy_is_one_tree() -> None:
    assert len(CLASSES) == 7 and all(issubclass(cls, NewsmonError) for cls in CLASSES)


@pytest.mark.parametrize("cls", CLASSES, ids=[cls.__name__ for cls in CLASSES])
def test_errors_pickle_with_message_and_reason(cls: type[NewsmonError]) -> None:
    plain = pickle.loads(pickle.dumps(cls("boom")))
    assert type(plain) is cls and str(plain) == "boom" and plain.reason == cls.reason
    tagged = pickle.loads(pickle.dumps(cls("no body", reason="empty_body")))
    assert type(tagged) is cls and str(tagged) == "no body" and tagged.reason == "empty_body"
