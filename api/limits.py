"""Limits on what one request may ask for.

strawberry's depth and alias limiters expand fragments path by path, which is exact but takes
time exponential in nested fragment spreads. ``ExpandedSizeLimiter`` runs first: it counts the
fields a document selects once every fragment is expanded, memoised per fragment (linear time),
and refuses the document before any other validation walks it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
)
from strawberry.extensions import (
    MaxAliasesLimiter,
    MaxTokensLimiter,
    QueryDepthLimiter,
    SchemaExtension,
)

MAX_DEPTH = 10
MAX_ALIASES = 30
MAX_TOKENS = 2000
MAX_FIELDS = 1000
MAX_PAGE = 100


def expanded_fields(document: DocumentNode) -> int:
    """Fields selected by all operations with fragments expanded; cycles count as nothing."""
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    sizes: dict[str, int] = {}
    in_progress: set[str] = set()

    def fragment_size(name: str) -> int:
        if name in sizes:
            return sizes[name]
        if name in in_progress or name not in fragments:
            return 0  # a cycle or an unknown fragment: validation reports it
        in_progress.add(name)
        size = selection_size(fragments[name].selection_set)
        in_progress.discard(name)
        sizes[name] = size
        return size

    def selection_size(selection_set: SelectionSetNode | None) -> int:
        if selection_set is None:
            return 0
        total = 0
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                total += 1 + selection_size(selection.selection_set)
            elif isinstance(selection, InlineFragmentNode):
                total += selection_size(selection.selection_set)
            elif isinstance(selection, FragmentSpreadNode):
                total += fragment_size(selection.name.value)
        return total

    return sum(
        selection_size(d.selection_set)
        for d in document.definitions
        if isinstance(d, OperationDefinitionNode)
    )


class ExpandedSizeLimiter(SchemaExtension):
    def __init__(self, max_fields: int = MAX_FIELDS) -> None:
        self.max_fields = max_fields

    def on_validate(self) -> Iterator[None]:
        document = self.execution_context.graphql_document
        if document is not None:
            size = expanded_fields(document)
            if size > self.max_fields:
                # Set before validation runs, so strawberry skips the (costly) rules.
                self.execution_context.pre_execution_errors = [
                    GraphQLError(
                        f"the query selects {size} fields once fragments are expanded;"
                        f" at most {self.max_fields} are allowed"
                    )
                ]
        yield


def extensions() -> list[Callable[[], SchemaExtension]]:
    """Factories of the limits every request runs under, in the order they must run."""
    return [
        lambda: MaxTokensLimiter(max_token_count=MAX_TOKENS),
        lambda: ExpandedSizeLimiter(MAX_FIELDS),
        lambda: QueryDepthLimiter(max_depth=MAX_DEPTH),
        lambda: MaxAliasesLimiter(max_alias_count=MAX_ALIASES),
    ]
