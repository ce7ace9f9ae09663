"""The dataset spec's cross-field checks (:class:`config.dataset_spec.DatasetSpec` calls them after validating each
field): columns, the label and the facets must agree. Each problem carries its key path, so that the loader reports
it as ``file: key: message`` like any other validation error, and all are reported at once.
"""

from __future__ import annotations

import difflib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from config.dataset_spec import DatasetSpec

#: A cross-field problem: key path, message, offending value.
Problem = tuple[tuple[str | int, ...], str, object]
#: The missing-value policies a label column allows: a row without a label cannot train.
LABEL_POLICIES = ("error", "drop_row")


def column_problems(spec: DatasetSpec) -> list[Problem]:
    problems: list[Problem] = []
    names = [column.name for column in spec.columns]
    ids: dict[str, int] = {}
    for index, column in enumerate(spec.columns):
        if column.name in names[:index]:
            problems.append((("columns", index, "name"), f"duplicate column name {column.name!r}", column.name))
            continue
        column_ref = str(column.id)
        if column_ref in ids:
            other = spec.columns[ids[column_ref]]
            message = (
                f"id {column_ref!r} (of {column.name!r}) is also the id of columns[{ids[column_ref]}] "
                f"({other.name!r}); give one of them another id"
            )
            problems.append((("columns", index, "id"), message, column.id))
        ids.setdefault(column_ref, index)
    if len(names) < 2:
        problems.append((("columns",), f"must list the label and at least one feature, got {names}", names))
    return problems


def _unknown_column(spec: DatasetSpec, reference: str) -> str:
    """The message for a reference to no column, with the column it probably means."""
    names = [column.name for column in spec.columns]
    by_id = {column.id: column.name for column in spec.columns}
    by_case = {name.casefold(): name for name in names}
    guess = by_id.get(reference) or by_case.get(reference.casefold())
    if guess is None:
        close = difflib.get_close_matches(reference, names, n=1)
        guess = close[0] if close else None
    hint = f" (did you mean {guess!r}? columns are named as the files write them)" if guess else ""
    return f"must be one of the columns {names}, got {reference!r}{hint}"


def label_problems(spec: DatasetSpec) -> list[Problem]:
    problems: list[Problem] = []
    label, by_name = spec.label, {column.name: column for column in spec.columns}
    column = by_name.get(label.column)
    if column is None:
        problems.append((("label", "column"), _unknown_column(spec, label.column), label.column))
    elif column.type != "categorical":
        problems.append(
            (
                ("label", "column"),
                f"the label column {label.column!r} must have type categorical, got numeric",
                label.column,
            )
        )
    elif column.missing not in LABEL_POLICIES:
        index = spec.columns.index(column)
        message = (
            f"the label column {label.column!r} allows the missing policy error or drop_row "
            f"(a row without a label cannot train), got {column.missing!r}"
        )
        problems.append((("columns", index, "missing"), message, column.missing))
    if label.positive not in label.values:
        problems.append(
            (
                ("label", "positive"),
                f"must be one of label.values {label.values}, got {label.positive!r}",
                label.positive,
            )
        )
    tokens = [value for value in label.values if value in spec.format.missing_values]
    if tokens:
        message = f"{tokens} also in format.missing_values: such a field would be read as missing"
        problems.append((("label", "values"), message, label.values))
    return problems


def facet_problems(spec: DatasetSpec) -> list[Problem]:
    problems: list[Problem] = []
    types = {column.name: column.type for column in spec.columns}
    seen: set[str] = set()
    for index, facet in enumerate(spec.facets):
        where: tuple[str | int, ...] = ("facets", index)
        if facet.name in seen:
            problems.append(((*where, "name"), f"duplicate facet name {facet.name!r}", facet.name))
        seen.add(facet.name)
        kind = types.get(facet.column)
        group = facet.disadvantaged
        if facet.column == spec.label.column:
            message = f"must be a feature column, not the label {spec.label.column!r}"
            problems.append(((*where, "column"), message, facet.column))
        elif kind is None:
            problems.append(((*where, "column"), _unknown_column(spec, facet.column), facet.column))
        elif kind == "numeric" and group.values is not None:
            message = f"column {facet.column!r} is numeric: give min and/or max, not values"
            problems.append(((*where, "disadvantaged"), message, group))
        elif kind == "categorical" and group.values is None:
            message = f"column {facet.column!r} is categorical: give values, not min/max"
            problems.append(((*where, "disadvantaged"), message, group))
    return problems
