"""Search: the parameter registry, index extraction at write time, request parsing and query compilation."""

from .request import Filter, Include, SearchRequest, parse_search_request

__all__ = ["Filter", "Include", "SearchRequest", "parse_search_request"]
