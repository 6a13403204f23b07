package robustness

import (
	"bufio"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// limit is max_request_body_size of the suite's /limited route.
const limit = 1000

// TestBodyLimits is B1: a body of the limit passes, one byte more gets a
// 413 fault (JSON for a client that accepts JSON; oslo's sizelimit answers
// webob's plain text otherwise) and the connection closes, with Content-Length and with
// chunked bodies sent as one chunk or as 1-byte chunks; the app never
// answers (it would have reported the bytes it read).
func TestBodyLimits(t *testing.T) {
	d := startDaemon(t, suiteIni, suiteFiles)
	body := func(n int) string { return strings.Repeat("b", n) }
	oneChunk := func(n int) string { return strconv.FormatInt(int64(n), 16) + "\r\n" + body(n) + "\r\n0\r\n\r\n" }
	byteChunks := func(n int) string { return strings.Repeat("1\r\nb\r\n", n) + "0\r\n\r\n" }
	cl := func(n int) string {
		return rq("POST /limited/x HTTP/1.1", "Host: x", "Accept: application/json", "Content-Length: "+strconv.Itoa(n)) + body(n)
	}
	te := func(chunks string) string {
		return rq("POST /limited/x HTTP/1.1", "Host: x", "Accept: application/json", "Transfer-Encoding: chunked") + chunks
	}
	tests := []struct {
		name   string
		raw    string
		status int
		closed bool
	}{
		{"Content-Length at the limit", cl(limit), 200, false},
		{"Content-Length one over", cl(limit + 1), 413, true},
		{"Content-Length far over", cl(100 * limit), 413, true},
		// A chunked request always closes its connection (pipeline.Root:
		// RFC 9112 §6.1, Content-Length beside chunked is invisible here).
		{"chunked at the limit, one chunk", te(oneChunk(limit)), 200, true},
		{"chunked one over, one chunk", te(oneChunk(limit + 1)), 413, true},
		{"chunked at the limit, 1-byte chunks", te(byteChunks(limit)), 200, true},
		{"chunked one over, 1-byte chunks", te(byteChunks(limit + 1)), 413, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := exchange(t, d.addr, tt.raw, 1)
			if len(res.statuses) != 1 || res.statuses[0] != tt.status || res.closed != tt.closed {
				t.Fatalf("got %v closed=%v, want [%d] closed=%v; %.300q", res.statuses, res.closed, tt.status, tt.closed, res.bodies)
			}
			if res.desync != "" {
				t.Errorf("desync: %s", res.desync)
			}
			b := res.bodies[0]
			if tt.status == 413 {
				var fault map[string]any
				if err := json.Unmarshal([]byte(b), &fault); err != nil {
					t.Errorf("413 body is not JSON: %.200q", b)
				}
				if strings.Contains(b, `"app": "echo"`) {
					t.Errorf("the app answered an over-limit request: %.200q", b)
				}
				return
			}
			var doc struct {
				BodyLength int `json:"body_length"`
			}
			if err := json.Unmarshal([]byte(b), &doc); err != nil || doc.BodyLength != limit {
				t.Errorf("app read %d bytes (%v), want %d", doc.BodyLength, err, limit)
			}
		})
	}
	d.alive()
}

// TestExpectContinue is B3: with Expect: 100-continue and a declared
// length over the limit, the answer is 413 and no 100 Continue is ever
// sent; under the limit, 100 Continue comes and the body is read.
func TestExpectContinue(t *testing.T) {
	d := startDaemon(t, suiteIni, suiteFiles)
	send := func(t *testing.T, n int) (*bufio.Reader, net.Conn) {
		conn, err := net.Dial("tcp", d.addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close() })
		_ = conn.SetDeadline(time.Now().Add(8 * time.Second))
		_, err = io.WriteString(conn, rq("POST /limited/x HTTP/1.1", "Host: x", "Expect: 100-continue", "Content-Length: "+strconv.Itoa(n)))
		if err != nil {
			t.Fatal(err)
		}
		return bufio.NewReader(conn), conn
	}
	t.Run("over the limit", func(t *testing.T) {
		br, _ := send(t, 2*limit)
		line, err := br.ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(line, "HTTP/1.1 413") {
			t.Fatalf("first line %q, want 413 (no 100 Continue before the limit check)", line)
		}
		// The connection is not read to its end: Go closes it only when
		// read_timeout ends (it waits for a body that never comes), which
		// bounds the cost of such a client; the 413 coming first is the point.
	})
	t.Run("under the limit", func(t *testing.T) {
		br, conn := send(t, 10)
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != 100 {
			t.Fatalf("got %d, want 100 Continue", resp.StatusCode)
		}
		if _, err := io.WriteString(conn, "0123456789"); err != nil {
			t.Fatal(err)
		}
		resp, err = http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 || !strings.Contains(string(b), `"body_length": 10`) {
			t.Errorf("got %d %.200q, want 200 with the 10 bytes read", resp.StatusCode, b)
		}
	})
	d.alive()
}

// TestBigUploads is B4 (CI-sized): 50 concurrent 20 MiB chunked uploads
// against the 1000-byte limit all get 413 (or, once the 413 is out, a
// closed connection), and the daemon's RSS grows by less than 20 MiB:
// memory is bounded by buffers, not bodies.
func TestBigUploads(t *testing.T) {
	d := startDaemon(t, suiteIni, suiteFiles)
	rss0 := d.rssKiB()
	var wg sync.WaitGroup
	var mu sync.Mutex
	statuses := map[string]int{}
	chunk := strings.Repeat("u", 64<<10)
	for range 50 {
		wg.Go(func() {
			conn, err := net.Dial("tcp", d.addr)
			if err != nil {
				t.Error(err)
				return
			}
			defer conn.Close()
			_ = conn.SetDeadline(time.Now().Add(20 * time.Second))
			br := bufio.NewReader(conn)
			got := make(chan string, 1)
			go func() {
				resp, err := http.ReadResponse(br, nil)
				if err != nil {
					got <- "closed"
					return
				}
				resp.Body.Close()
				got <- resp.Status
			}()
			_, err = io.WriteString(conn, rq("POST /limited/up HTTP/1.1", "Host: x", "Transfer-Encoding: chunked"))
			for i := 0; err == nil && i < 20<<20/len(chunk); i++ {
				_, err = io.WriteString(conn, strconv.FormatInt(int64(len(chunk)), 16)+"\r\n"+chunk+"\r\n")
			}
			s := <-got
			mu.Lock()
			statuses[s]++
			mu.Unlock()
		})
	}
	wg.Wait()
	rss1 := d.rssKiB()
	t.Logf("answers %v; RSS %d -> %d KiB", statuses, rss0, rss1)
	if statuses["413 Request Entity Too Large"] != 50 {
		t.Errorf("answers %v, want 50 × 413", statuses)
	}
	if rss1-rss0 > 20<<10 {
		t.Errorf("RSS grew by %d KiB", rss1-rss0)
	}
	d.alive()
}
