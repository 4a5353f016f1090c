//! Series of the change events (`docs/api/events.md`), read from the store's sink at each
//! scrape: events published and dropped, and whether the bus is unreachable. All zero
//! when no sink is set (the single-node default).

use crate::remote::raise;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

/// The change events' series.
pub(crate) struct ChangeSeries {
    published: Counter,
    dropped: Counter,
    degraded: Gauge,
}

impl ChangeSeries {
    pub(crate) fn register(r: &mut Registry) -> ChangeSeries {
        let s = ChangeSeries {
            published: Counter::default(),
            dropped: Counter::default(),
            degraded: Gauge::default(),
        };
        r.register(
            "silent_nas_change_events_published",
            "Change events handed to the event bus (NATS)",
            s.published.clone(),
        );
        r.register(
            "silent_nas_change_events_dropped",
            "Change events dropped: the bus was unreachable and the queue full",
            s.dropped.clone(),
        );
        r.register(
            "silent_nas_change_events_degraded",
            "1 while the event bus is unreachable",
            s.degraded.clone(),
        );
        s
    }

    pub(crate) fn refresh(&self, store: &nas_engine::Store) {
        let Some(st) = store.changes_status() else {
            return;
        };
        raise(&self.published, st.published);
        raise(&self.dropped, st.dropped);
        self.degraded.set(i64::from(st.degraded.is_some()));
    }
}
