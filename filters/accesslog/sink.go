package accesslog

import (
	"io"
	"log/slog"
	"runtime"
	"sync"
	"time"
)

// Sink is a buffered log destination written off the request path: Append
// copies a line into an in-memory chunk under a mutex (no system call), and
// a background goroutine writes the chunks out every flush interval, or as
// soon as one holds limit bytes. Chunks are fixed-size and reused, so a
// busy sink neither grows nor copies its buffer: a full chunk is queued for
// the flusher and lines go on into a free one. At most maxChunks chunks
// (64 × limit bytes) are buffered: should they all be full, the request
// that finds them full wakes the flusher and yields once, and if no chunk
// is free by then its line is dropped, counted, and the count reported
// through the logger. Only the flusher writes to the destination, so
// memory stays bounded and requests never wait on a slow or stuck disk.
//
// A Sink is safe for concurrent use. Close stops the goroutine, writes
// what is left and closes the destination; lines appended after Close are
// dropped.
type Sink struct {
	mu      sync.Mutex
	cur     []byte   // the chunk lines go to; nil when none is free
	full    [][]byte // chunks waiting for the flusher, oldest first
	free    [][]byte // empty chunks
	chunks  int      // chunks allocated and not dropped
	limit   int
	dropped uint64
	closed  bool

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

const (
	// maxChunks bounds the chunks a Sink holds: 64 × limit bytes.
	maxChunks = 64
	// keepChunks is how many empty chunks a Sink keeps after a burst.
	keepChunks = 4
	// lineSlack is the room a chunk has past limit: a line started below
	// limit fits without the chunk growing. Every field of a line is
	// capped (see maxPath and the others), so that even fully escaped
	// (6 bytes per input byte) a line stays below it.
	lineSlack = 16 << 10
)

// NewSink starts a Sink writing to w every interval (or once limit bytes
// are buffered). closer, when not nil, is closed by Close. logger reports
// write errors and dropped lines (rate-limited); nil means slog.Default().
func NewSink(w io.Writer, closer io.Closer, limit int, interval time.Duration, logger *slog.Logger) *Sink {
	if logger == nil {
		logger = slog.Default()
	}
	s := &Sink{
		limit:  limit,
		w:      w,
		closer: closer,
		logger: logger,
		kick:   make(chan struct{}, 1),
		stop:   make(chan struct{}),
		done:   make(chan struct{}),
	}
	s.cur = s.newChunk()
	s.free = append(s.free, s.newChunk())
	go s.run(interval)
	return s
}

func (s *Sink) newChunk() []byte {
	s.chunks++
	return make([]byte, 0, s.limit+lineSlack)
}

// lock returns the chunk to append one line to, with the sink locked, or
// nil (unlocked) when the line must be dropped. The caller appends and
// calls unlock with the result.
func (s *Sink) lock() []byte {
	s.mu.Lock()
	if s.cur == nil && !s.closed {
		s.nextChunkLocked()
		if s.cur == nil {
			// Every chunk is full: wake the flusher and let it run once
			// (it may merely not have been scheduled yet); drop the line
			// if that freed nothing. Never write here: the destination
			// may be stuck.
			s.mu.Unlock()
			s.wake()
			runtime.Gosched()
			s.mu.Lock()
			if s.cur == nil && !s.closed {
				s.nextChunkLocked()
			}
		}
	}
	if s.closed || s.cur == nil {
		s.dropped++
		s.mu.Unlock()
		return nil
	}
	return s.cur
}

// wake asks the flusher to write the full chunks, without waiting.
func (s *Sink) wake() {
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// nextChunkLocked makes a free or new chunk current, when the bound
// allows one. s.mu is held.
func (s *Sink) nextChunkLocked() {
	if n := len(s.free); n > 0 {
		s.cur = s.free[n-1]
		s.free = s.free[:n-1]
	} else if s.chunks < maxChunks {
		s.cur = s.newChunk()
	}
}

// unlock stores the appended chunk and unlocks; a chunk that reached limit
// is queued and the flusher woken.
func (s *Sink) unlock(b []byte) {
	s.cur = b
	full := len(b) >= s.limit
	if full {
		s.full = append(s.full, b)
		s.cur = nil
		s.nextChunkLocked()
	}
	s.mu.Unlock()
	if full {
		s.wake()
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
		all := false
		select {
		case <-s.stop:
			return
		case <-t.C:
			all = true
		case <-s.kick:
		}
		s.flush(all)
	}
}

// flush writes the queued chunks out, and the current one too when all is
// set (the interval passed, or the sink is closing). Only the flusher
// goroutine calls it, and Close once that goroutine has stopped, so the
// destination and the error state have one writer at a time.
func (s *Sink) flush(all bool) {
	s.mu.Lock()
	out := s.full
	s.full = nil
	if all && len(s.cur) > 0 {
		out = append(out, s.cur)
		s.cur = nil
		s.nextChunkLocked()
	}
	dropped := s.dropped
	s.dropped = 0
	s.mu.Unlock()
	for _, b := range out {
		if _, err := s.w.Write(b); err != nil {
			s.report(err)
		}
	}
	if dropped > 0 {
		s.logger.Warn("access log: lines dropped: every buffer was full (a slow destination) or the log was closed", "dropped", dropped)
	}
	if len(out) == 0 {
		return
	}
	// Written chunks are free again; beyond keepChunks (after a burst)
	// they are left to the garbage collector.
	s.mu.Lock()
	for _, b := range out {
		switch {
		case s.cur == nil && !s.closed:
			s.cur = b[:0]
		case len(s.free) < keepChunks && cap(b) == s.limit+lineSlack:
			s.free = append(s.free, b[:0])
		default:
			s.chunks--
		}
	}
	s.mu.Unlock()
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
		s.flush(true)
		if s.closer != nil {
			err = s.closer.Close()
		}
	})
	return err
}
