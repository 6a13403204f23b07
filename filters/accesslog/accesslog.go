// Package accesslog provides the "request_log" filter: one structured
// access-log line per request, in the spirit of nova's request_log.
//
// Each line has the time the answer finished (behind a generation root,
// the request's shared end, pipeline.Request.End), the client address (the one
// trusted proxy parsing derived, without its port), the method, the path
// (SCRIPT_NAME + PATH_INFO, percent-decoded; the query string is never
// logged, since it can carry credentials), the status, the response body
// bytes, the duration since the request entered the pipeline, the request
// id and the User-Agent, as JSON or as logfmt text:
//
//	{"time":"2026-11-30T09:11:06.123456Z","remote_addr":"192.0.2.1","method":"GET","path":"/v2.1/servers","status":200,"bytes":1534,"duration_ms":3.127,"request_id":"req-…","user_agent":"curl/8.5.0"}
//	time=2026-11-30T09:11:06.123456Z remote_addr=192.0.2.1 method=GET path=/v2.1/servers status=200 bytes=1534 duration_ms=3.127 request_id=req-… user_agent=curl/8.5.0
//
// Log injection and log growth are bounded: control characters, quotes,
// backslashes, invalid UTF-8 and invisible Unicode are escaped, and every
// field is capped (method 32 bytes, path 2048, client address 64, request
// id 64, User-Agent 256; a cut field ends in "..."), so a line is at most
// about 16 KiB whatever the request.
//
// Lines go through a [Sink]: appending costs no system call and no
// allocation; a background goroutine writes them out every flush_interval
// (stopped, after a last write, when the generation is retired). A line
// is logged even when a panic passes through the filter (with status 500
// if nothing was written yet).
package accesslog

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"os"
	"strconv"
	"time"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/vietstack/vietstack-api/pipeline"
)

// Options are the options of request_log.
type Options struct {
	Destination   string            `ini:"destination" default:"stderr" doc:"where lines go: stderr, stdout, discard, or a file path (opened for append, created with mode 0640; reopened on reload)"`
	Format        string            `ini:"format" default:"json" doc:"json (one object per line) or text (logfmt)"`
	FlushInterval time.Duration     `ini:"flush_interval" default:"1s" doc:"how often buffered lines are written out"`
	BufferSize    pipeline.ByteSize `ini:"buffer_size" default:"64KiB" doc:"write out early once this much is buffered; beyond 64 times this (4 MiB by default), lines are dropped (and counted) while the destination is stuck"`
}

// Validate checks the options.
func (o *Options) Validate() error {
	var errs []error
	if o.Format != "json" && o.Format != "text" {
		errs = append(errs, fmt.Errorf("format: %q is not json or text", o.Format))
	}
	if o.Destination == "" {
		errs = append(errs, errors.New("destination: must not be empty (use discard to log nothing)"))
	}
	if o.FlushInterval < time.Millisecond || o.FlushInterval > time.Minute {
		errs = append(errs, fmt.Errorf("flush_interval: %s is outside 1ms..1m", o.FlushInterval))
	}
	if o.BufferSize < 4<<10 || o.BufferSize > 1<<20 {
		errs = append(errs, fmt.Errorf("buffer_size: %s is outside 4KiB..1MiB", o.BufferSize))
	}
	return errors.Join(errs...)
}

// Register registers the "request_log" filter in reg.
func Register(reg *pipeline.Registry) {
	reg.Filter("request_log", Factory, pipeline.Info{
		Doc:     "access log: one JSON or logfmt line per request (method, path, status, bytes, duration, request id, client), escaped and capped, buffered off the request path",
		Options: Options{},
	})
}

// Factory is the FilterFactory of request_log. It opens the destination
// and starts the flusher; both are released through c.OnClose.
func Factory(ctx context.Context, c *pipeline.Config) (pipeline.Middleware, error) {
	var o Options
	if err := c.Decode(&o); err != nil {
		return nil, err
	}
	switch o.Destination {
	case "discard":
		return func(next http.Handler) http.Handler { return next }, nil
	case "stderr", "stdout":
		w := os.Stderr
		if o.Destination == "stdout" {
			w = os.Stdout
		}
		s := NewSink(w, nil, int(o.BufferSize), o.FlushInterval, c.Logger)
		c.OnClose(s.Close)
		return New(s, o.Format == "text"), nil
	}
	f, err := os.OpenFile(o.Destination, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
	if err != nil {
		return nil, c.Errorf("destination", "%v", err)
	}
	s := NewSink(f, f, int(o.BufferSize), o.FlushInterval, c.Logger)
	c.OnClose(s.Close)
	return New(s, o.Format == "text"), nil
}

// Field caps, in bytes of the original value.
const (
	maxMethod    = 32
	maxPath      = 2048
	maxRemote    = 64
	maxRequestID = 64
	maxUserAgent = 256
)

// New returns the middleware that logs every request to s, as logfmt text
// when text is true, else as JSON.
func New(s *Sink, text bool) pipeline.Middleware {
	l := &logger{sink: s, text: text}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			st := pipeline.RequestFrom(r)
			var tw *pipeline.StatusRecorder
			start := time.Time{}
			if st == nil {
				// Not behind a generation root: measure here.
				tw = &pipeline.StatusRecorder{ResponseWriter: w}
				w = tw
				start = time.Now()
			}
			finished := false
			defer func() {
				if !finished {
					l.log(r, st, tw, start, true)
				}
			}()
			next.ServeHTTP(w, r)
			finished = true
			l.log(r, st, tw, start, false)
		})
	}
}

type logger struct {
	sink *Sink
	text bool

	// sec and secText cache the text of the last second appendTime
	// formatted ("2006-01-02T15:04:05."), so that lines of the same second
	// only format their microseconds. Guarded by the sink's lock, which
	// log holds while it formats.
	sec     int64
	secText []byte
}

func (l *logger) log(r *http.Request, st *pipeline.Request, tw *pipeline.StatusRecorder, start time.Time, panicking bool) {
	var now time.Time
	if st != nil {
		now = st.End() // shared with a metrics filter further in: one clock read
	} else {
		now = time.Now()
	}
	var (
		status         int
		bytes          int64
		script, remote string
		requestID      string
	)
	if st != nil {
		status, bytes, start = st.Status(), st.BytesWritten(), st.Start
		script, remote, requestID = st.ScriptName, st.RemoteAddr, st.RequestID
	} else {
		status, bytes, remote = tw.Status, tw.Bytes, r.RemoteAddr
	}
	if status == 0 {
		status = http.StatusOK // what net/http sends for an empty answer
		if panicking {
			status = http.StatusInternalServerError
		}
	}
	dur := now.Sub(start)
	ua := ""
	if v := r.Header["User-Agent"]; len(v) > 0 {
		ua = v[0]
	}

	b := l.sink.lock()
	if b == nil {
		return
	}
	if l.text {
		b = append(b, "time="...)
		b = l.appendTime(b, now)
		b = append(b, " remote_addr="...)
		b = appendRemote(b, remote, false)
		b = append(b, " method="...)
		b = appendText(b, r.Method, "", maxMethod)
		b = append(b, " path="...)
		b = appendText(b, script, r.URL.Path, maxPath)
		b = append(b, " status="...)
		b = strconv.AppendInt(b, int64(status), 10)
		b = append(b, " bytes="...)
		b = strconv.AppendInt(b, bytes, 10)
		b = append(b, " duration_ms="...)
		b = appendMillis(b, dur)
		b = append(b, " request_id="...)
		b = appendText(b, requestID, "", maxRequestID)
		b = append(b, " user_agent="...)
		b = appendText(b, ua, "", maxUserAgent)
	} else {
		b = append(b, `{"time":"`...)
		b = l.appendTime(b, now)
		b = append(b, `","remote_addr":`...)
		b = appendRemote(b, remote, true)
		b = append(b, `,"method":`...)
		b = appendJSON(b, r.Method, "", maxMethod)
		b = append(b, `,"path":`...)
		b = appendJSON(b, script, r.URL.Path, maxPath)
		b = append(b, `,"status":`...)
		b = strconv.AppendInt(b, int64(status), 10)
		b = append(b, `,"bytes":`...)
		b = strconv.AppendInt(b, bytes, 10)
		b = append(b, `,"duration_ms":`...)
		b = appendMillis(b, dur)
		b = append(b, `,"request_id":`...)
		b = appendJSON(b, requestID, "", maxRequestID)
		b = append(b, `,"user_agent":`...)
		b = appendJSON(b, ua, "", maxUserAgent)
		b = append(b, '}')
	}
	b = append(b, '\n')
	l.sink.unlock(b)
}

const timeFormat = "2006-01-02T15:04:05.000000Z07:00"

// appendTime appends now in UTC as timeFormat. The caller holds the
// sink's lock.
func (l *logger) appendTime(b []byte, now time.Time) []byte {
	now = now.UTC()
	if sec := now.Unix(); sec != l.sec || l.secText == nil {
		l.sec = sec
		l.secText = now.Truncate(time.Second).AppendFormat(l.secText[:0], "2006-01-02T15:04:05.")
	}
	b = append(b, l.secText...)
	us := now.Nanosecond() / 1000
	b = append(b, byte('0'+us/100000), byte('0'+us/10000%10), byte('0'+us/1000%10),
		byte('0'+us/100%10), byte('0'+us/10%10), byte('0'+us%10))
	return append(b, 'Z')
}

// appendMillis appends d in milliseconds with three decimals (its whole
// microseconds), as strconv.AppendFloat(b, µs/1000, 'f', 3, 64) would.
func appendMillis(b []byte, d time.Duration) []byte {
	us := d.Microseconds()
	if us < 0 {
		return strconv.AppendFloat(b, float64(us)/1000, 'f', 3, 64)
	}
	b = strconv.AppendInt(b, us/1000, 10)
	frac := us % 1000
	return append(b, '.', byte('0'+frac/100), byte('0'+frac/10%10), byte('0'+frac%10))
}

// appendRemote writes the client address without its port when it parses
// as ip:port, else (escaped and capped) as it is.
func appendRemote(b []byte, remote string, json bool) []byte {
	if ap, err := netip.ParseAddrPort(remote); err == nil {
		if !json {
			return ap.Addr().AppendTo(b)
		}
		b = append(b, '"')
		b = ap.Addr().AppendTo(b)
		return append(b, '"')
	}
	if json {
		return appendJSON(b, remote, "", maxRemote)
	}
	return appendText(b, remote, "", maxRemote)
}

// capped yields the runes of a+b up to max bytes, reporting whether the
// value was cut. Invalid bytes come as utf8.RuneError with size 1.
func capped(a, b string, max int, fn func(r rune, size int, raw byte)) (cut bool) {
	n := 0
	for _, s := range [2]string{a, b} {
		for i := 0; i < len(s); {
			r, size := utf8.DecodeRuneInString(s[i:])
			if n+size > max {
				return true
			}
			fn(r, size, s[i])
			n += size
			i += size
		}
	}
	return false
}

const hexDigits = "0123456789abcdef"

// appendJSON appends a+b as a JSON string, capped at max bytes of input:
// control characters, DEL, invisible and line-separator runes as \uXXXX,
// invalid UTF-8 as \ufffd.
func appendJSON(dst []byte, a, b string, max int) []byte {
	dst = append(dst, '"')
	if len(a)+len(b) <= max && plainJSON(a) && plainJSON(b) {
		// The common case, printable ASCII that needs no escape: copied.
		return append(append(append(dst, a...), b...), '"')
	}
	cut := capped(a, b, max, func(r rune, size int, raw byte) {
		switch {
		case r == '"':
			dst = append(dst, '\\', '"')
		case r == '\\':
			dst = append(dst, '\\', '\\')
		case r == '\n':
			dst = append(dst, '\\', 'n')
		case r == '\r':
			dst = append(dst, '\\', 'r')
		case r == '\t':
			dst = append(dst, '\\', 't')
		case r == utf8.RuneError && size == 1:
			dst = append(dst, `\ufffd`...)
		case r < 0x20 || r == 0x7f || !unicode.IsPrint(r):
			if r > 0xffff {
				r1, r2 := utf16.EncodeRune(r)
				dst = appendU4(dst, r1)
				dst = appendU4(dst, r2)
			} else {
				dst = appendU4(dst, r)
			}
		default:
			dst = utf8.AppendRune(dst, r)
		}
	})
	if cut {
		dst = append(dst, "..."...)
	}
	return append(dst, '"')
}

func appendU4(dst []byte, r rune) []byte {
	return append(dst, '\\', 'u', hexDigits[r>>12&0xf], hexDigits[r>>8&0xf], hexDigits[r>>4&0xf], hexDigits[r&0xf])
}

// appendText appends a+b as a logfmt value, capped at max bytes of input:
// bare when it is non-empty printable ASCII without space, '"', '=' or
// '\\', otherwise quoted with \" \\ \n \r \t, \xNN for other control bytes,
// DEL and invalid UTF-8, and \u{XXXX} for invisible runes.
func appendText(dst []byte, a, b string, max int) []byte {
	if bare(a, max) && bare(b, max-len(a)) && len(a)+len(b) > 0 {
		return append(append(dst, a...), b...)
	}
	dst = append(dst, '"')
	cut := capped(a, b, max, func(r rune, size int, raw byte) {
		switch {
		case r == '"':
			dst = append(dst, '\\', '"')
		case r == '\\':
			dst = append(dst, '\\', '\\')
		case r == '\n':
			dst = append(dst, '\\', 'n')
		case r == '\r':
			dst = append(dst, '\\', 'r')
		case r == '\t':
			dst = append(dst, '\\', 't')
		case r == utf8.RuneError && size == 1, r < 0x20, r == 0x7f:
			dst = append(dst, '\\', 'x', hexDigits[raw>>4], hexDigits[raw&0xf])
		case !unicode.IsPrint(r):
			dst = append(dst, '\\', 'u', '{')
			dst = strconv.AppendInt(dst, int64(r), 16)
			dst = append(dst, '}')
		default:
			dst = utf8.AppendRune(dst, r)
		}
	})
	if cut {
		dst = append(dst, "..."...)
	}
	return append(dst, '"')
}

// plainJSON reports whether s is printable ASCII without '"' or '\\',
// which a JSON string holds as it is.
func plainJSON(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < ' ' || c >= 0x7f || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}

// bare reports whether s fits in max bytes and needs no quoting in logfmt.
func bare(s string, max int) bool {
	if len(s) > max {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || c == '"' || c == '=' || c == '\\' {
			return false
		}
	}
	return true
}
