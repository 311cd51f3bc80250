"""Limits on what one request may ask for, checked once per distinct query text.

strawberry's depth and alias limiters expand fragments path by path, which is exact but takes
time exponential in nested fragment spreads. The expanded size runs first: it counts the fields a
document selects once every fragment is expanded, memoised per fragment (linear time), and refuses
the document before any validation rule walks it.

Parsing and validating cost more than running a member query, and clients send the same few
documents over and over; ``Limits`` keeps each document's parse and verdict in a
bounded LRU, so a repeated query skips both. The verdict depends only on the text, the schema and
the rules, which are built once per process (a fresh rule class per request would defeat it).
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import lru_cache
from typing import Any

from graphql import (
    ASTValidationRule,
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    parse,
)
from strawberry.extensions import MaxAliasesLimiter, QueryDepthLimiter, SchemaExtension
from strawberry.schema.schema import validate_document

MAX_DEPTH = 10
MAX_ALIASES = 30
MAX_TOKENS = 2000
MAX_FIELDS = 1000
MAX_PAGE = 100
DOCUMENT_CACHE_SIZE = 256
"""Distinct query texts kept parsed and judged; bounded so unique texts cannot grow memory."""

# Built once: each limiter makes a new rule class when constructed.
DEPTH_RULES = tuple(QueryDepthLimiter(max_depth=MAX_DEPTH).validation_rules)
ALIAS_RULES = tuple(MaxAliasesLimiter(max_alias_count=MAX_ALIASES).validation_rules)


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


Rules = tuple[type[ASTValidationRule], ...]


class Prepared:
    """A parsed document and its verdicts (errors, empty when valid) per schema and rule set."""

    __slots__ = ("document", "verdicts")

    def __init__(self, document: DocumentNode) -> None:
        self.document = document
        self.verdicts: dict[tuple[GraphQLSchema, Rules], list[GraphQLError]] = {}

    def verdict(
        self, schema: GraphQLSchema, rules: Rules, max_fields: int = MAX_FIELDS
    ) -> list[GraphQLError]:
        key = (schema, rules)
        found = self.verdicts.get(key)
        if found is None:
            size = expanded_fields(self.document)
            if size > max_fields:
                found = [
                    GraphQLError(
                        f"the query selects {size} fields once fragments are expanded;"
                        f" at most {max_fields} are allowed"
                    )
                ]
            else:
                found = validate_document(schema, self.document, rules)
            self.verdicts[key] = found
        return found


@lru_cache(maxsize=DOCUMENT_CACHE_SIZE)
def prepared(query: str, parse_options: tuple[tuple[str, Any], ...]) -> Prepared:
    """Raises GraphQLError for a document that does not parse (not cached)."""
    return Prepared(parse(query, **dict(parse_options)))


class Limits(SchemaExtension):
    """Every limit, in one extension (each one costs hooks per request): the token limit while
    parsing, then the expanded size, depth and aliases, each distinct text judged once."""

    def __init__(self) -> None:
        self.found: Prepared | None = None

    def on_operation(self) -> Iterator[None]:
        ctx = self.execution_context
        ctx.parse_options["max_tokens"] = MAX_TOKENS
        ctx.validation_rules = (*ctx.validation_rules, *DEPTH_RULES, *ALIAS_RULES)
        yield

    def on_parse(self) -> Iterator[None]:
        ctx = self.execution_context
        if ctx.query and ctx.graphql_document is None:
            try:
                self.found = prepared(ctx.query, tuple(sorted(ctx.parse_options.items())))
            except GraphQLError:
                pass  # strawberry parses it again and reports the error the usual way
            else:
                ctx.graphql_document = self.found.document
        yield

    def on_validate(self) -> Iterator[None]:
        ctx = self.execution_context
        if self.found is not None and ctx.pre_execution_errors is None:
            # Set before strawberry's own validation, which then does not run.
            ctx.pre_execution_errors = list(
                self.found.verdict(ctx.schema._schema, ctx.validation_rules)
            )
        yield
