package main

import (
	"fmt"
	"log/slog"
	"net"
	"strings"

	"github.com/coreos/go-systemd/v22/activation"
	sddaemon "github.com/coreos/go-systemd/v22/daemon"
)

// This file is the daemon's side of systemd (etc/vietstack-api.service,
// Type=notify-reload, and etc/vietstack-api.socket): readiness and reload
// notifications through NOTIFY_SOCKET, and the listening socket passed in
// with LISTEN_FDS/LISTEN_PID. Outside systemd both do nothing.

// notifier sends sd_notify(3) state changes to the service manager. Without
// NOTIFY_SOCKET every method does nothing; a send that fails is logged as a
// warning and never stops the daemon. A nil *notifier does nothing.
type notifier struct {
	log  *slog.Logger
	send func(state string) (bool, error) // sddaemon.SdNotify, leaving NOTIFY_SOCKET set
}

// newNotifier returns a notifier for the socket named by NOTIFY_SOCKET.
func newNotifier(log *slog.Logger) *notifier {
	return &notifier{log: log, send: func(state string) (bool, error) { return sddaemon.SdNotify(false, state) }}
}

func (n *notifier) notify(what, state string) {
	if n == nil {
		return
	}
	if _, err := n.send(state); err != nil {
		n.log.Warn("cannot notify systemd", "state", what, "err", err)
	}
}

// statusLine makes s fit one STATUS= assignment: newlines become spaces.
func statusLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// Ready reports that the daemon serves (at start-up and after a reload),
// with status as the unit's status text.
func (n *notifier) Ready(status string) {
	n.notify("ready", sddaemon.SdNotifyReady+"\nSTATUS="+statusLine(status))
}

// Reloading reports that a reload starts, with the monotonic time systemd
// needs for Type=notify-reload. Ready or Status must follow.
func (n *notifier) Reloading() {
	n.notify("reloading", sddaemon.SdNotifyReloading+"\n"+strings.TrimSuffix(sddaemon.SdNotifyMonotonicUsec(), "\n"))
}

// ReloadFailed ends a reload that failed: the daemon keeps serving the
// previous configuration, so it is ready again, and the status says why.
func (n *notifier) ReloadFailed(why string) {
	n.notify("ready", sddaemon.SdNotifyReady+"\nSTATUS="+statusLine("reload failed, serving the previous configuration: "+why))
}

// Stopping reports that the daemon shuts down.
func (n *notifier) Stopping(status string) {
	n.notify("stopping", sddaemon.SdNotifyStopping+"\nSTATUS="+statusLine(status))
}

// Status sets the unit's status text.
func (n *notifier) Status(status string) {
	n.notify("status", "STATUS="+statusLine(status))
}

// activatedListener returns the listening socket systemd passed with
// LISTEN_FDS for this process (LISTEN_PID), or nil when there is none. The
// LISTEN_* variables are removed from the environment, so children do not
// take the socket for theirs. vietstack-api serves one socket: several
// sockets, or a socket that is not a stream listener, are an error.
func activatedListener() (net.Listener, error) {
	lns, err := activation.Listeners()
	if err != nil {
		return nil, fmt.Errorf("socket activation: %w", err)
	}
	switch {
	case len(lns) == 0:
		return nil, nil
	case len(lns) > 1:
		for _, ln := range lns {
			if ln != nil {
				ln.Close()
			}
		}
		return nil, fmt.Errorf("socket activation: systemd passed %d sockets; vietstack-api serves one (one ListenStream= in the .socket unit)", len(lns))
	case lns[0] == nil:
		return nil, fmt.Errorf("socket activation: the socket systemd passed is not a stream listener; use ListenStream= in the .socket unit")
	}
	return lns[0], nil
}
