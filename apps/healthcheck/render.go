package healthcheck

import (
	"bytes"
	"encoding/json"
	"html"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/vietstack/vietstack-api/filters/faults/accept"
)

const (
	ctPlain = "text/plain; charset=UTF-8"
	ctHTML  = "text/html; charset=UTF-8"
	ctJSON  = "application/json"
)

// offers are oslo's, in its order: the first wins a tie, and text/plain is
// also the answer when nothing matches.
var offers = []string{"text/plain", "text/html", "application/json"}

// answer runs the backends and writes the health answer.
func (ch *Checker) answer(w http.ResponseWriter, r *http.Request) {
	results := make([]result, 0, len(ch.backends)+1)
	healthy := true
	if len(ch.backends) > 0 {
		port := serverPort(r)
		for _, b := range ch.backends {
			res := b.check(port)
			healthy = healthy && res.available
			results = append(results, res)
		}
	}
	if ch.drain.IsSet() {
		results = append(results, drainResult)
		healthy = false
	}
	h := w.Header()
	if r.Method == http.MethodHead {
		if healthy {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		h.Set("Content-Type", ctPlain)
		h.Set("Content-Length", "0")
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	status := http.StatusOK
	if !healthy {
		status = http.StatusServiceUnavailable
	}
	var body []byte
	var ctype string
	kind, _ := accept.Negotiate(r.Header.Get("Accept"), offers)
	switch kind {
	case "text/html":
		body, ctype = ch.renderHTML(results), ctHTML
	case "application/json":
		body, ctype = ch.renderJSON(results), ctJSON
	default:
		body, ctype = renderPlain(results), ctPlain
	}
	h.Set("Content-Type", ctype)
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	w.Write(body)
}

// renderPlain is oslo's text answer: the non-empty reasons, one per line.
func renderPlain(results []result) []byte {
	var b strings.Builder
	for _, res := range results {
		b.WriteByte('\n')
		b.WriteString(res.reason)
	}
	return []byte(strings.TrimSpace(b.String()))
}

type plainJSON struct {
	Detailed bool     `json:"detailed"`
	Reasons  []string `json:"reasons"`
}

type detailedReason struct {
	Class   string `json:"class"`
	Details string `json:"details"`
	Reason  string `json:"reason"`
}

type detailedJSON struct {
	Detailed   bool             `json:"detailed"`
	Goroutines int              `json:"goroutines"`
	Now        string           `json:"now"`
	Reasons    []detailedReason `json:"reasons"`
}

// renderJSON is oslo's JSON answer, indented by four spaces with sorted
// keys (Python's json.dumps(indent=4, sort_keys=True)).
func (ch *Checker) renderJSON(results []result) []byte {
	var v any
	if ch.detailed {
		d := detailedJSON{Detailed: true, Goroutines: runtime.NumGoroutine(), Now: now(), Reasons: []detailedReason{}}
		for _, res := range results {
			d.Reasons = append(d.Reasons, detailedReason{Class: res.class, Details: res.details, Reason: res.reason})
		}
		v = d
	} else {
		p := plainJSON{Reasons: []string{}}
		for _, res := range results {
			p.Reasons = append(p.Reasons, res.reason)
		}
		v = p
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "    ")
	if err := enc.Encode(v); err != nil {
		// Only strings and numbers: cannot fail.
		panic(err)
	}
	return bytes.TrimRight(buf.Bytes(), "\n")
}

func now() string { return time.Now().UTC().Format("2006-01-02 15:04:05.000000") }

// renderHTML is oslo's HTML answer (its Jinja template rendered, byte for
// byte in the non-detailed form).
func (ch *Checker) renderHTML(results []result) []byte {
	e := html.EscapeString
	var b strings.Builder
	b.WriteString("<HTML>\n<HEAD><TITLE>Healthcheck Status</TITLE></HEAD>\n<BODY>\n")
	if ch.detailed {
		b.WriteString("<H1>Server status</H1>\n<B>Current time:</B><PRE>" + e(now()) + "</PRE>\n")
		b.WriteString("<B>Goroutines:</B><PRE>" + strconv.Itoa(runtime.NumGoroutine()) + "</PRE>\n<HR></HR>")
	}
	b.WriteString("\n<H2>Result of " + strconv.Itoa(len(results)) + " checks:</H2>\n")
	b.WriteString("<TABLE bgcolor=\"#ffffff\" border=\"1\">\n<TBODY>\n<TR>\n")
	if ch.detailed {
		b.WriteString("<TH>\nKind\n</TH>\n<TH>\nReason\n</TH>\n<TH>\nDetails\n</TH>\n")
	} else {
		b.WriteString("\n<TH>\nReason\n</TH>")
	}
	b.WriteString("\n</TR>\n")
	for _, res := range results {
		if res.reason == "" {
			continue
		}
		b.WriteString("<TR>\n")
		if ch.detailed {
			b.WriteString("<TD>" + e(res.class) + "</TD>")
		}
		b.WriteString("\n    <TD>" + e(res.reason) + "</TD>\n")
		if ch.detailed {
			b.WriteString("<TD>" + e(res.details) + "</TD>")
		}
		b.WriteString("\n</TR>")
	}
	b.WriteString("\n</TBODY>\n</TABLE>\n<HR></HR>\n\n</BODY>\n</HTML>")
	return []byte(b.String())
}

var notFoundBody = []byte("404 Not Found\n\nThe resource could not be found.\n\n   ")

// notFound answers a request the healthcheck app does not serve.
func notFound(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Type", ctPlain)
	h.Set("Content-Length", strconv.Itoa(len(notFoundBody)))
	w.WriteHeader(http.StatusNotFound)
	if r.Method != http.MethodHead {
		w.Write(notFoundBody)
	}
}
