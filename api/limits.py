"""Limits on what one request may ask for, checked once per distinct query text.

strawberry's depth and alias limiters expand fragments path by path, which is exact but takes
time exponential in nested fragment spreads. The expanded size runs first: it counts the fields a
document selects once every fragment is expanded, memoised per fragment (linear time), and refuses
the document before any validation rule walks it.

The cost counts what a query may return: each field 1, a list field's children times the most
items that list can hold (``LIST_SIZES``: ``upline``, ``directRecruits``, rankings; any other list
``DEFAULT_LIST_SIZE``), multiplied through nesting and summed over every alias. A size given by a
variable counts as its maximum, so the verdict still depends on the text alone.

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
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNamedType,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    VariableNode,
    get_named_type,
    get_nullable_type,
    parse,
)
from strawberry.extensions import MaxAliasesLimiter, QueryDepthLimiter, SchemaExtension
from strawberry.schema.schema import validate_document

from api.errors import Code
from graph.reads import MAX_UPLINE

MAX_DEPTH = 10
MAX_ALIASES = 30
MAX_TOKENS = 2000
MAX_FIELDS = 1000
MAX_PAGE = 100
DEFAULT_MAX_COST = 20_000
"""Used when the context has no settings (DOWNLINE_MAX_QUERY_COST sets it)."""
DEFAULT_LIST_SIZE = MAX_PAGE
"""The most items assumed of a list field not in ``LIST_SIZES``."""
LIST_SIZES: dict[tuple[str, str], tuple[str | None, int, int]] = {
    # (type, field): (the argument that sizes it, its size when absent or null, its maximum)
    ("Member", "upline"): ("maxDepth", MAX_UPLINE, MAX_UPLINE),
    ("Member", "directRecruits"): ("first", 20, MAX_PAGE),
    ("MemberConnection", "edges"): (None, 1, 1),  # sized by directRecruits(first)
    ("Query", "topInfluencers"): ("limit", 20, MAX_PAGE),
    ("TierPayouts", "lines"): (None, 6, 6),  # three tiers, two kinds
    ("Query", "riskClusters"): ("first", 20, MAX_PAGE),
    ("RiskFlagConnection", "edges"): (None, 1, 1),  # sized by riskClusters(first)
    ("RiskEvidence", "identifiers"): ("first", 20, MAX_PAGE),
}
INTROSPECTION = frozenset({"__schema", "__type"})
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


def _list_size(
    parent: GraphQLNamedType | None, node: FieldNode
) -> tuple[GraphQLNamedType | None, int]:
    """The field's own type and the most items it can hold (1 for anything not a list)."""
    if not isinstance(parent, GraphQLObjectType | GraphQLInterfaceType):
        return None, 1
    definition = parent.fields.get(node.name.value)
    if definition is None:
        return None, 1  # __typename, or a field validation reports
    named = get_named_type(definition.type)
    sized = LIST_SIZES.get((parent.name, node.name.value))
    if sized is None:
        is_list = isinstance(get_nullable_type(definition.type), GraphQLList)
        return named, DEFAULT_LIST_SIZE if is_list else 1
    argument, default, maximum = sized
    value = next((a.value for a in node.arguments or () if a.name.value == argument), None)
    if isinstance(value, VariableNode):
        return named, maximum
    if isinstance(value, IntValueNode):
        return named, min(max(int(value.value), 0), maximum)
    return named, default


def query_cost(schema: GraphQLSchema, document: DocumentNode) -> int:
    """Each field 1, plus its children times its list size; fragments costed once each."""
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    costs: dict[str, int] = {}
    in_progress: set[str] = set()

    def fragment_cost(name: str) -> int:
        if name in costs:
            return costs[name]
        if name in in_progress or name not in fragments:
            return 0  # a cycle or an unknown fragment: validation reports it
        in_progress.add(name)
        fragment = fragments[name]
        cost = selection_cost(
            schema.get_type(fragment.type_condition.name.value), fragment.selection_set
        )
        in_progress.discard(name)
        costs[name] = cost
        return cost

    def selection_cost(
        parent: GraphQLNamedType | None, selection_set: SelectionSetNode | None
    ) -> int:
        if selection_set is None:
            return 0
        total = 0
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode) and selection.name.value in INTROSPECTION:
                # The schema's own description: static, bounded by the schema and not by the
                # data, and what GraphiQL asks first (graphql-core's standard query would cost
                # 343,057). The depth, alias, token and field limits still bound the document.
                total += 1
            elif isinstance(selection, FieldNode):
                child, size = _list_size(parent, selection)
                total += 1 + size * selection_cost(child, selection.selection_set)
            elif isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition
                inner = parent if condition is None else schema.get_type(condition.name.value)
                total += selection_cost(inner, selection.selection_set)
            elif isinstance(selection, FragmentSpreadNode):
                total += fragment_cost(selection.name.value)
        return total

    roots = {
        OperationType.QUERY: schema.query_type,
        OperationType.MUTATION: schema.mutation_type,
        OperationType.SUBSCRIPTION: schema.subscription_type,
    }
    return sum(
        selection_cost(roots[d.operation], d.selection_set)
        for d in document.definitions
        if isinstance(d, OperationDefinitionNode)
    )


Rules = tuple[type[ASTValidationRule], ...]


class Prepared:
    """A parsed document and its verdicts (errors, empty when valid) per schema and rule set."""

    __slots__ = ("document", "verdicts")

    def __init__(self, document: DocumentNode) -> None:
        self.document = document
        self.verdicts: dict[tuple[GraphQLSchema, Rules, int], list[GraphQLError]] = {}

    def verdict(
        self,
        schema: GraphQLSchema,
        rules: Rules,
        max_fields: int = MAX_FIELDS,
        max_cost: int = DEFAULT_MAX_COST,
    ) -> list[GraphQLError]:
        key = (schema, rules, max_cost)
        found = self.verdicts.get(key)
        if found is None:
            size = expanded_fields(self.document)
            cost = 0 if size > max_fields else query_cost(schema, self.document)
            if size > max_fields:
                found = [
                    GraphQLError(
                        f"the query selects {size} fields once fragments are expanded;"
                        f" at most {max_fields} are allowed"
                    )
                ]
            elif cost > max_cost:
                found = [
                    GraphQLError(
                        f"the query may cost {cost} (each field 1, times the most items of"
                        f" every list above it); at most {max_cost} is allowed",
                        extensions={"code": Code.TOO_COSTLY.value},
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
            settings = getattr(ctx.context, "settings", None)
            max_cost = DEFAULT_MAX_COST if settings is None else settings.max_query_cost
            ctx.pre_execution_errors = list(
                self.found.verdict(ctx.schema._schema, ctx.validation_rules, max_cost=max_cost)
            )
        yield
