"""The year as a picture: a physician's dated facts laid out on a server-side SVG timeline.

``draw(view, profile)`` turns a ``YearView`` into shapes: a lane per concept (the running total of
points with the bands' thresholds, sanctions, restoration windows, notices, appeals, credit
ratings, one lane per institution's agreement), days of the year across, the chosen day as a
vertical line.  The template (``templates/timeline.svg``) writes them out; every text it carries
is escaped there.  No script: a shape's ``title`` is its tooltip.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date

from gateway.ui.year import Event, YearView
from rules.profiles import Profile

__all__ = ["Drawing", "Shape", "draw"]

Scale = Callable[[int], float]  # a day's ordinal → its x on the drawing

WIDTH = 1200
LEFT = 150  # the lanes' names
RIGHT = 16
TOP = 22  # the months
POINTS_HEIGHT = 96
LANE_HEIGHT = 24

_LANES = (("points", "积分"), ("sanctions", "处理"), ("restoration", "恢复申请"), ("notices", "告知"),
          ("appeals", "异议"), ("credits", "信用等级"))


@dataclass(frozen=True, slots=True)
class Shape:
    """One SVG element: ``tag`` (rect, circle, line, polyline, text), numeric ``attrs``, a CSS class."""

    tag: str
    attrs: dict[str, float | str]
    cls: str = ""
    title: str = ""
    text: str = ""


@dataclass(slots=True)
class Drawing:
    width: int
    height: int
    lanes: list[tuple[float, str]] = field(default_factory=list)  # (y of the label, name)
    shapes: list[Shape] = field(default_factory=list)


def draw(view: YearView, profile: Profile) -> Drawing:
    first = date(view.year, 1, 1).toordinal()
    days = date(view.year + 1, 1, 1).toordinal() - first

    def x(n: int) -> float:
        return round(LEFT + (min(max(n, first), first + days) - first) * (WIDTH - LEFT - RIGHT) / days, 1)

    lanes = [*(_LANES), *((f"agreement:{code}", f"协议 {code}") for code in view.institutions)]
    drawing = Drawing(WIDTH, 0)
    y = TOP
    tops: dict[str, float] = {}
    for lane, name in lanes:
        height = POINTS_HEIGHT if lane == "points" else LANE_HEIGHT
        tops[lane] = y
        drawing.lanes.append((y + height / 2 + 4, name))
        drawing.shapes.append(Shape("rect", {"x": LEFT, "y": y, "width": WIDTH - LEFT - RIGHT, "height": height},
                                    "lane"))
        y += height + 4
    drawing.height = int(y + 6)
    _months(drawing, view.year, x)
    _points(drawing, view, profile, x, tops["points"], first)
    for event in view.events:
        if event.lane != "points" and event.lane in tops:
            drawing.shapes.extend(_event(event, x, tops[event.lane]))
    on = view.on.toordinal()
    drawing.shapes.append(Shape("line", {"x1": x(on), "y1": TOP - 4, "x2": x(on), "y2": drawing.height - 4}, "on",
                                f"查询日 {view.on.isoformat()}"))
    return drawing


def _months(drawing: Drawing, year: int, x: Scale) -> None:
    for month in range(1, 13):
        n = date(year, month, 1).toordinal()
        drawing.shapes.append(Shape("line", {"x1": x(n), "y1": TOP - 4, "x2": x(n), "y2": drawing.height - 4},
                                    "month"))
        drawing.shapes.append(Shape("text", {"x": x(n) + 3, "y": TOP - 8}, "month", text=f"{month}月"))


def _points(drawing: Drawing, view: YearView, profile: Profile, x: Scale, top: float, first: int) -> None:
    """The running total as a staircase over the year, with the bands' thresholds."""
    bands = profile.bands
    thresholds = sorted({p for p in (bands.interview_points, *(p for p, _ in bands.suspend_months[:1]),
                                     bands.terminate_points,
                                     0 if profile.auto_sanctions else bands.settlement_suspension_points) if p})
    ceiling = max([12, view.points, *thresholds]) + 1

    def y(total: int) -> float:
        return round(top + POINTS_HEIGHT - 6 - total * (POINTS_HEIGHT - 12) / ceiling, 1)

    for t in thresholds:
        drawing.shapes.append(Shape("line", {"x1": x(first), "y1": y(t), "x2": x(first + 400), "y2": y(t)},
                                    "threshold", f"{t} 分"))
        drawing.shapes.append(Shape("text", {"x": x(first) + 2, "y": y(t) - 2}, "threshold", text=f"{t}分"))
    steps = [f"{x(first)},{y(0)}"]
    total = 0
    for v in view.violations:
        n = date.fromisoformat(v["scored_on"]).toordinal()
        steps.append(f"{x(n)},{y(total)}")
        total = v["total"]
        steps.append(f"{x(n)},{y(total)}")
    steps.append(f"{x(first + 400)},{y(total)}")
    drawing.shapes.append(Shape("polyline", {"points": " ".join(steps)}, "total"))
    for event in (e for e in view.events if e.lane == "points"):
        total_after = next(v["total"] for v in view.violations if event.detail.startswith(f"{v['id']}:"))
        drawing.shapes.append(Shape("circle", {"cx": x(event.start), "cy": y(total_after), "r": 5}, "violation",
                                    event.detail))
        drawing.shapes.append(Shape("text", {"x": x(event.start) + 6, "y": y(total_after) - 6}, "violation",
                                    text=event.label))


def _event(event: Event, x: Scale, top: float) -> list[Shape]:
    middle = top + LANE_HEIGHT / 2
    if event.end <= event.start:  # a day: a mark
        return [Shape("circle", {"cx": x(event.start), "cy": middle, "r": 5}, f"mark {event.kind}", event.detail),
                Shape("text", {"x": x(event.start) + 7, "y": middle + 4}, event.kind, text=event.label)]
    left, right = x(event.start), x(event.end)
    bar = Shape("rect", {"x": left, "y": top + 4, "width": max(right - left, 2), "height": LANE_HEIGHT - 8},
                f"span {event.kind}", event.detail)
    if right - left < 13 * len(event.label) + 6:  # too short for its label: the tooltip says it
        return [bar]
    return [bar, Shape("text", {"x": left + 3, "y": middle + 4}, f"span-label {event.kind}", text=event.label)]
