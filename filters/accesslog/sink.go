package accesslog

import (
	"io"
	"log/slog"
	"sync"
	"time"
)

// Sink is a buffered log destination written off the request path: Append
// copies a line into an in-memory buffer under a mutex (no system call),
// and a background goroutine writes the buffer out every flush interval,
// or sooner once it holds limit bytes. Should the buffer reach 64 × limit
// before the goroutine runs, the request that finds it full writes it out
// itself (one write per 64 × limit bytes); should the goroutine be blocked
// in a write to a slow destination, lines are dropped instead, counted,
// and the count is reported through the logger: memory stays bounded and
// requests never wait on a stuck disk.
//
// A Sink is safe for concurrent use. Close stops the goroutine, writes
// what is left and closes the destination; lines appended after Close are
// dropped.
type Sink struct {
	mu      sync.Mutex
	buf     []byte
	spare   []byte
	limit   int
	max     int
	dropped uint64
	closed  bool

	flushMu sync.Mutex
	w       io.Writer
	closer  io.Closer
	logger  *slog.Logger
	kick    chan struct{}
	stop    chan struct{}
	done    chan struct{}
	lastErr string
	errAt   time.Time
	once    sync.Once
}

// NewSink starts a Sink writing to w every interval (or once limit bytes
// are buffered). closer, when not nil, is closed by Close. logger reports
// write errors and dropped lines (rate-limited); nil means slog.Default().
func NewSink(w io.Writer, closer io.Closer, limit int, interval time.Duration, logger *slog.Logger) *Sink {
	if logger == nil {
		logger = slog.Default()
	}
	s := &Sink{
		buf:    make([]byte, 0, limit),
		spare:  make([]byte, 0, limit),
		limit:  limit,
		max:    64 * limit,
		w:      w,
		closer: closer,
		logger: logger,
		kick:   make(chan struct{}, 1),
		stop:   make(chan struct{}),
		done:   make(chan struct{}),
	}
	go s.run(interval)
	return s
}

// lock returns the buffer to append one line to, with the sink locked, or
// nil (unlocked) when the line must be dropped. The caller appends and
// calls unlock with the result.
func (s *Sink) lock() []byte {
	s.mu.Lock()
	if len(s.buf) >= s.max && !s.closed {
		// The flusher is behind. If it is merely not scheduled yet (and
		// not blocked in a write), write out here, once per 64 × limit
		// bytes; if it is busy writing, drop rather than wait.
		s.mu.Unlock()
		if s.flushMu.TryLock() {
			s.flushLocked()
			s.flushMu.Unlock()
		}
		s.mu.Lock()
	}
	if s.closed || len(s.buf) >= s.max {
		s.dropped++
		s.mu.Unlock()
		return nil
	}
	return s.buf
}

// unlock stores the appended buffer, unlocks, and wakes the flusher when
// the buffer reached its limit.
func (s *Sink) unlock(b []byte) {
	s.buf = b
	full := len(b) >= s.limit
	s.mu.Unlock()
	if full {
		select {
		case s.kick <- struct{}{}:
		default:
		}
	}
}

// Append copies line (which should end in "\n") into the buffer.
func (s *Sink) Append(line []byte) {
	if b := s.lock(); b != nil {
		s.unlock(append(b, line...))
	}
}

func (s *Sink) run(interval time.Duration) {
	defer close(s.done)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
		case <-s.kick:
		}
		s.flush()
	}
}

// flush writes the buffered lines out.
func (s *Sink) flush() {
	s.flushMu.Lock()
	defer s.flushMu.Unlock()
	s.flushLocked()
}

// flushLocked is flush with flushMu held; flushMu guards spare, the
// destination and the error state.
func (s *Sink) flushLocked() {
	s.mu.Lock()
	out := s.buf
	s.buf = s.spare[:0]
	dropped := s.dropped
	s.dropped = 0
	s.mu.Unlock()
	if len(out) > 0 {
		if _, err := s.w.Write(out); err != nil {
			s.report(err)
		}
	}
	if dropped > 0 {
		s.logger.Warn("access log: lines dropped while the destination was slow or closed", "dropped", dropped)
	}
	// Keep the buffer for the next swap unless a burst made it huge.
	if cap(out) <= 2*s.limit {
		s.spare = out[:0]
	} else {
		s.spare = make([]byte, 0, s.limit)
	}
}

// report logs a write error, at most once a minute for the same error.
func (s *Sink) report(err error) {
	msg := err.Error()
	if msg == s.lastErr && time.Since(s.errAt) < time.Minute {
		return
	}
	s.lastErr, s.errAt = msg, time.Now()
	s.logger.Error("access log: write failed", "error", msg)
}

// Close stops the flusher, writes what is buffered and closes the
// destination. It is idempotent.
func (s *Sink) Close() error {
	var err error
	s.once.Do(func() {
		close(s.stop)
		<-s.done
		s.mu.Lock()
		s.closed = true
		s.mu.Unlock()
		s.flush()
		if s.closer != nil {
			err = s.closer.Close()
		}
	})
	return err
}
