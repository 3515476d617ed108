"""Analytics: the read model every page, report and alert stands on.

* `query` (query.py): any measures by any dimensions over a window, from rollups (engine.py,
  sources.py) or raw events, within what the reader may see (scope.py).
* `catalogue.py`: the measures and dimensions, each with its formula.
* `summaries.py`: the first API's summaries, answered by `query`; per-session and recent reads.
* `sessions.py`: the sessions list (search, filters, pages) and one session's timeline.
* `trends.py`: period-over-period change, rolling averages, weekday pattern, rankings, adoption,
  month-end forecasts (pandas, over `query` results).
"""
from .catalogue import DIMENSIONS, MEASURES, PUBLIC_MEASURES
from .query import AnalyticsQuery, QueryResult, query
from .sessions import SessionPage, SessionSearch, SessionTimeline, search_sessions, session_timeline
from .summaries import (ActivityItem, Filters, NamedStat, ProductivitySummary, SessionMetrics, named_stats,
                        productivity_summary, recent_activity, recent_sessions, session_metrics)
from .window import Window

__all__ = ["ActivityItem", "AnalyticsQuery", "DIMENSIONS", "Filters", "MEASURES", "NamedStat", "PUBLIC_MEASURES",
           "ProductivitySummary", "QueryResult", "SessionPage", "SessionSearch", "SessionTimeline", "SessionMetrics", "Window", "named_stats", "productivity_summary",
           "query", "recent_activity", "recent_sessions", "search_sessions",
           "session_metrics", "session_timeline"]
