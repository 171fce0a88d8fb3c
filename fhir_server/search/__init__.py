"""Search: parse requests, compile them into storage queries."""

from .compile import compile_search
from .request import SEARCH_PARAMETERS, Filter, SearchRequest, parse_search_request

__all__ = ["SEARCH_PARAMETERS", "Filter", "SearchRequest", "compile_search", "parse_search_request"]
