"""The ``feed`` step: the next row of a feeder (``data:``) into a variable."""

from __future__ import annotations

from collections.abc import Iterable

from engine.errors import Position, did_you_mean
from engine.feeders import Exhausted, Feeder, FeederUnavailable
from engine.model import FeedStep
from engine.source import MarkedDict
from engine.steps.base import (
    Building,
    Compiling,
    NotLoaded,
    Rehearsal,
    Runner,
    StepKind,
    StepProgram,
    StopRequested,
    label,
)
from engine.templates import Scope


class FeedProgram(StepProgram):
    """Take the next row of a feeder into a variable."""

    def __init__(self, spec: FeedStep, feeder: Feeder) -> None:
        self.feeder = feeder
        self.var = spec.var
        self.label = label("feed", spec.pos)

    def run(self, user: Runner, scope: Scope) -> bool:
        try:
            scope[self.var] = self.feeder.take()
        except Exhausted as exc:
            if exc.policy == "stop_user":
                raise StopRequested(str(exc)) from None
            user.report_failure("FEED", self.label, str(exc), scope)
            return False
        except FeederUnavailable as exc:  # a worker that the master could not serve
            user.report_failure("FEED", self.label, str(exc), scope)
            return False
        return True

    def rehearse(self, rehearsal: Rehearsal, scope: Scope) -> None:
        """The feeder's first row stands for the row a run takes."""
        scope[self.var] = dict(self.feeder.rows[0])
        rehearsal.note(f"feed {self.var} from {self.feeder.name} ({self.feeder.strategy}; first row shown)", scope)


class Feed(StepKind[FeedStep]):
    """``feed: users`` or ``feed: {from: users, as: user}``."""

    name = "feed"
    schema = "feedStep"
    model = FeedStep
    program = FeedProgram

    def build(self, node: MarkedDict, b: Building) -> FeedStep | None:
        spec = node["feed"]
        if isinstance(spec, dict):
            return FeedStep(str(spec["from"]), str(spec.get("as", spec["from"])), b.pos(node))
        return FeedStep(str(spec), str(spec), b.pos(node))

    def compile(self, step: FeedStep, c: Compiling, known: set[str]) -> StepProgram:
        feeder = c.feeders.get(step.feeder)
        if feeder is None:
            declared = [spec.name for spec in c.scenario.feeders]
            if step.feeder not in declared:
                hint = did_you_mean(step.feeder, declared) or "declare it under data:"
                c.sink.add(step.pos, f"unknown feeder '{step.feeder}'", hint)
            known.add(step.var)
            return NotLoaded()
        c.columns[step.var] = (step.feeder, feeder.columns)
        known.add(step.var)
        return FeedProgram(step, feeder)

    def defines(self, step: FeedStep) -> Iterable[tuple[str, Position]]:
        return ((step.var, step.pos),)


KIND = Feed()
