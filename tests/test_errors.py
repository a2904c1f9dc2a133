"""The error hierarchy survives pickling (errors cross process boundaries) with its reason."""
from __future__ import annotations

import pickle

import pytest

from newsmon.index.core.errors import (
    ConfigError,
    DeliveryError,
    ExtractError,
    FetchError,
    IndexingError,
    NewsmonError,
    StoreError,
)


@pytest.mark.parametrize("cls", [NewsmonError, ConfigError, FetchError, ExtractError, StoreError,
                                 IndexingError, DeliveryError])
def test_errors_pickle_with_message_and_reason(cls: type[NewsmonError]) -> None:
    plain = pickle.loads(pickle.dumps(cls("boom")))
    assert type(plain) is cls and str(plain) == "boom" and plain.reason == cls.reason
    tagged = pickle.loads(pickle.dumps(cls("no body", reason="empty_body")))
    assert type(tagged) is cls and str(tagged) == "no body" and tagged.reason == "empty_body"
