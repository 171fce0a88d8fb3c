"""Storage: versioned resources in MongoDB, the body codec and the embedded database launcher."""

from .codec import BodyCodec, PlainCodec
from .embedded import EmbeddedDatabase
from .mongo import VERSION_SEARCHABLE, MongoResourceStore
from .records import StoredResource
from .store import (
    ConditionLock,
    CurrentQuery,
    HistoryQuery,
    Linked,
    LinkedDocument,
    LinkedUpdate,
    PendingWrite,
    ResourceStore,
    WriteRefused,
)

__all__ = [
    "BodyCodec",
    "ConditionLock",
    "CurrentQuery",
    "EmbeddedDatabase",
    "HistoryQuery",
    "Linked",
    "LinkedDocument",
    "LinkedUpdate",
    "MongoResourceStore",
    "PendingWrite",
    "PlainCodec",
    "ResourceStore",
    "StoredResource",
    "VERSION_SEARCHABLE",
    "WriteRefused",
]
