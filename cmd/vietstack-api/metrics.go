package main

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vietstack/vietstack-api/filters/metrics"
)

// daemonMetrics are the daemon's own metrics, exposed with the requests'
// by any metrics_app of the pipeline:
//
//	vietstack_config_reloads_total{result="success"|"failure"}
//	vietstack_config_last_reload_successful             (1 or 0)
//	vietstack_config_last_reload_success_timestamp_seconds
//	vietstack_connections_open
//	vietstack_connections_rejected_total                (past max_connections)
//
// Their values live in the process: with --workers each worker counts its
// own, as a scrape through the shared port reaches one of them.
type daemonMetrics struct {
	reloadOK, reloadFailed prometheus.Counter
	lastOK                 prometheus.Gauge
	lastOKTime             prometheus.Gauge
}

// newDaemonMetrics registers the daemon's metrics in m. ln, when not nil,
// is the listener whose connections are counted.
func newDaemonMetrics(m *metrics.Registry, ln *limitListener) *daemonMetrics {
	reloads := prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "vietstack", Subsystem: "config", Name: "reloads_total",
		Help: "Reloads of the configuration (SIGHUP or --watch), by result; a failed one keeps the previous pipeline serving.",
	}, []string{"result"})
	d := &daemonMetrics{
		reloadOK:     reloads.WithLabelValues("success"),
		reloadFailed: reloads.WithLabelValues("failure"),
		lastOK: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: "vietstack", Subsystem: "config", Name: "last_reload_successful",
			Help: "1 when the last reload (or the start) built the configuration, 0 when it failed.",
		}),
		lastOKTime: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: "vietstack", Subsystem: "config", Name: "last_reload_success_timestamp_seconds",
			Help: "Unix time of the last successful build of the configuration (start or reload).",
		}),
	}
	cs := []prometheus.Collector{reloads, d.lastOK, d.lastOKTime}
	if ln != nil {
		cs = append(cs,
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{
				Namespace: "vietstack", Subsystem: "connections", Name: "open",
				Help: "Client connections open now.",
			}, func() float64 { return float64(ln.Open()) }),
			prometheus.NewCounterFunc(prometheus.CounterOpts{
				Namespace: "vietstack", Subsystem: "connections", Name: "rejected_total",
				Help: "Connections answered 503 and closed because max_connections were open.",
			}, func() float64 { return float64(ln.Rejected()) }))
	}
	m.Prometheus().MustRegister(cs...)
	d.lastOK.Set(1)
	d.lastOKTime.Set(float64(time.Now().UnixNano()) / 1e9)
	return d
}

// reloaded records the result of a reload.
func (d *daemonMetrics) reloaded(ok bool) {
	if !ok {
		d.reloadFailed.Inc()
		d.lastOK.Set(0)
		return
	}
	d.reloadOK.Inc()
	d.lastOK.Set(1)
	d.lastOKTime.Set(float64(time.Now().UnixNano()) / 1e9)
}
