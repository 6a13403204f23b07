package authtoken

// The tests of this package run against a real Keystone (Debian's
// python3-keystone), started by ../shared/tools/keystone/start_keystone.sh
// once per test binary (when the first test needs it; TestMain stops it):
// one instance with ordinary tokens, and one whose tokens
// live a few seconds (service token renewal). Without Keystone the
// Keystone tests skip with the reason, except under CI=true, where they
// fail: a missing install step must not hide behind a green run.

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// shortLifetime is the token lifetime of the second Keystone, in seconds.
const shortLifetime = 6

// ksInstance is a running test Keystone.
type ksInstance struct {
	dir, port, url string
	seed           map[string]string
	env            []string // for start_keystone.sh
}

var (
	toolsDir  string // ../shared/tools/keystone
	ksMain    *ksInstance
	ksShort   *ksInstance
	ksSkip    string // why Keystone tests cannot run, "" when they can
	ksStarted []*ksInstance
	ksMu      sync.Mutex
	ksOnce    sync.Once

	shortReady chan struct{} // closed when ksShort/shortErr are set
	shortErr   error

	// The real keystonemiddleware auth_token (ksm_oracle.py) in front of
	// ksMain, by configuration name.
	oracleReady chan struct{}
	oracleURLs  map[string]string
	oracleErr   error
	oracleCmds  []*exec.Cmd
)

// oracleConfigs are the ksm_oracle.py configurations the parity test
// compares with: their extra flags.
var oracleConfigs = map[string][]string{
	"default": {"--service-token-roles-required"},
	"delay":   {"--service-token-roles-required", "--delay-auth-decision"},
	"down":    {"--service-token-roles-required", "--auth-url", "http://127.0.0.1:1/v3"},
}

// startOracles starts one ksm_oracle.py per configuration and waits until
// each answers.
func startOracles(ks *ksInstance) (map[string]string, error) {
	urls := map[string]string{}
	for name, flags := range oracleConfigs {
		port, err := freePort()
		if err != nil {
			return nil, err
		}
		args := append([]string{filepath.Join(toolsDir, "ksm_oracle.py"), ks.dir, port}, flags...)
		cmd := exec.Command("/usr/bin/python3", args...)
		cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
		if err := cmd.Start(); err != nil {
			return nil, fmt.Errorf("ksm_oracle.py: %v", err)
		}
		oracleCmds = append(oracleCmds, cmd)
		urls[name] = "http://127.0.0.1:" + port
	}
	deadline := time.Now().Add(3 * time.Minute)
	for name, u := range urls {
		for {
			resp, err := http.Get(u + "/status/200")
			if err == nil {
				resp.Body.Close()
				break
			}
			if time.Now().After(deadline) {
				return nil, fmt.Errorf("ksm_oracle.py %s did not answer at %s: %v", name, u, err)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	return urls, nil
}

// needOracle returns the oracle URLs, skipping (failing in CI) without them.
func needOracle(t *testing.T) map[string]string {
	t.Helper()
	needKeystone(t)
	<-oracleReady
	if oracleErr != nil {
		if inCI() {
			t.Fatalf("keystonemiddleware oracle: %v", oracleErr)
		}
		t.Skipf("keystonemiddleware oracle unavailable: %v", oracleErr)
	}
	return oracleURLs
}

// inCI reports whether CI=true: Keystone trouble then fails the tests.
func inCI() bool { return strings.EqualFold(os.Getenv("CI"), "true") }

// needKeystone skips (or, in CI, fails) a test when Keystone is missing.
func needKeystone(t *testing.T) {
	t.Helper()
	ksOnce.Do(startAll)
	if ksSkip == "" {
		return
	}
	if inCI() {
		t.Fatalf("real Keystone unavailable (CI=true, so this fails): %s", ksSkip)
	}
	t.Skipf("real Keystone unavailable: %s (install python3-keystone, jq and curl, or set CI=true to make this an error)", ksSkip)
}

// repoRoot finds the module root above the working directory.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no go.mod above the working directory")
		}
		dir = parent
	}
}

func freePort() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	_, port, _ := net.SplitHostPort(l.Addr().String())
	return port, nil
}

// startKeystone starts (installing if needed) and seeds a Keystone in a
// new temporary directory.
func startKeystone() (*ksInstance, error) {
	ks, err := newInstance()
	if err != nil {
		return nil, err
	}
	if err := ks.run(time.Now().Add(5*time.Minute), "start_keystone.sh", ks.dir, ks.port); err != nil {
		return ks, err
	}
	if err := ks.run(time.Now().Add(time.Minute), "seed_keystone.sh", ks.dir); err != nil {
		return ks, err
	}
	ks.seed, err = readEnv(filepath.Join(ks.dir, "seed.env"))
	return ks, err
}

func newInstance() (*ksInstance, error) {
	dir, err := os.MkdirTemp("", "vietstack-keystone-")
	if err != nil {
		return nil, err
	}
	port, err := freePort()
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	ks := &ksInstance{dir: dir, port: port, url: "http://127.0.0.1:" + port + "/v3"}
	// The owner file lets a later run stop this instance if this test
	// binary dies without cleaning up (killed by a timeout or a signal).
	if err := os.WriteFile(filepath.Join(dir, "owner"), []byte(strconv.Itoa(os.Getpid())), 0o644); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	ksMu.Lock()
	ksStarted = append(ksStarted, ks)
	ksMu.Unlock()
	return ks, nil
}

// run runs one of the tools/keystone scripts, killing it (and what it
// started in its process group) at deadline.
func (ks *ksInstance) run(deadline time.Time, script string, args ...string) error {
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(toolsDir, script), args...)
	// A loaded machine (parallel test packages) can take minutes to start
	// Python; the script's default is 60 s.
	cmd.Env = append(os.Environ(), "KEYSTONE_START_TIMEOUT=240")
	cmd.Env = append(cmd.Env, ks.env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s: %v\n%s", script, err, out)
	}
	return nil
}

// startShort starts a second Keystone whose tokens live shortLifetime
// seconds, from a copy of main's seeded database and keys (so the users,
// passwords and even tokens are the same), which saves the key setup,
// db_sync, bootstrap and seeding.
func startShort(main *ksInstance) (*ksInstance, error) {
	ks, err := newInstance()
	if err != nil {
		return nil, err
	}
	ks.seed = main.seed
	ks.env = []string{fmt.Sprintf("KEYSTONE_TOKEN_EXPIRATION=%d", shortLifetime)}
	if out, err := exec.Command("cp", "-a", main.dir+"/keystone.db", main.dir+"/fernet-keys", main.dir+"/credential-keys", ks.dir+"/").CombinedOutput(); err != nil {
		return ks, fmt.Errorf("copying the Keystone state: %v: %s", err, out)
	}
	// start_keystone.sh skips db_sync and bootstrap when this mark names
	// the port and admin password; without it they run (slower, same
	// result).
	pw := os.Getenv("KEYSTONE_ADMIN_PASSWORD")
	if pw == "" {
		pw = "admin-secret"
	}
	sum := sha256.Sum256([]byte(pw))
	mark := fmt.Sprintf("%s %s\n", ks.port, hex.EncodeToString(sum[:])[:16])
	if err := os.WriteFile(filepath.Join(ks.dir, ".bootstrapped"), []byte(mark), 0o644); err != nil {
		return ks, err
	}
	return ks, ks.run(time.Now().Add(3*time.Minute), "start_keystone.sh", ks.dir, ks.port)
}

func readEnv(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	m := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), "="); ok {
			m[k] = v
		}
	}
	return m, sc.Err()
}

// stop stops the instance.
func (ks *ksInstance) stop() error {
	return ks.run(time.Now().Add(time.Minute), "stop_keystone.sh", ks.dir)
}

func TestMain(m *testing.M) {
	flag.Parse()
	code := m.Run()
	stopAll()
	// goleak after stopAll: the Keystones and the oracles serve the whole
	// binary, and their start-up goroutines end only there.
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goleak: Errors on successful test run:", err)
			code = 1
		}
	}
	os.Exit(code)
}

// startAll starts the Keystones (and the keystonemiddleware oracles) the
// first time a test needs them: a run of only the other tests pays nothing.
// The main instance is up when it returns; the second instance and the
// oracles start in the background (needShort, needOracle wait for them).
func startAll() {
	root, err := repoRoot()
	if err == nil {
		toolsDir = filepath.Join(filepath.Dir(root), "shared", "tools", "keystone")
		if _, serr := os.Stat(filepath.Join(toolsDir, "start_keystone.sh")); serr != nil {
			err = fmt.Errorf("%s not found (CI clones ../shared beside the repository)", toolsDir)
		}
	}
	if err == nil && testing.Short() {
		err = fmt.Errorf("skipped with -short")
	}
	if err == nil {
		reapOrphans()
		start := time.Now()
		ksMain, err = startKeystone()
		if err == nil {
			fmt.Fprintf(os.Stderr, "authtoken tests: Keystone %s up in %v\n", ksMain.url, time.Since(start).Round(time.Millisecond))
			shortReady = make(chan struct{})
			go func() {
				defer close(shortReady)
				ksShort, shortErr = startShort(ksMain)
			}()
			oracleReady = make(chan struct{})
			go func() {
				defer close(oracleReady)
				oracleURLs, oracleErr = startOracles(ksMain)
			}()
		}
	}
	if err != nil {
		ksSkip = err.Error()
		fmt.Fprintf(os.Stderr, "authtoken tests: real Keystone unavailable: %v\n", err)
	}
}

// reapOrphans stops the test Keystones that earlier runs of this test left
// behind: those in vietstack-keystone-* directories whose owner (the test
// binary that started them) is gone.
func reapOrphans() {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), "vietstack-keystone-*"))
	for _, dir := range dirs {
		data, err := os.ReadFile(filepath.Join(dir, "owner"))
		if err != nil {
			continue
		}
		pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
		if err != nil || pid == os.Getpid() {
			continue
		}
		if cmd, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid)); err == nil && strings.Contains(string(cmd), ".test") {
			continue // its test binary still runs
		}
		ks := &ksInstance{dir: dir}
		if err := ks.run(time.Now().Add(time.Minute), "stop_keystone.sh", dir, "--purge"); err != nil {
			fmt.Fprintf(os.Stderr, "authtoken tests: cleaning up %s: %v\n", dir, err)
		}
	}
}

// stopAll stops everything startAll started and removes its directories.
func stopAll() {
	if shortReady != nil {
		<-shortReady
		<-oracleReady
	}
	for _, cmd := range oracleCmds {
		cmd.Process.Kill()
		cmd.Wait()
	}
	ksMu.Lock()
	defer ksMu.Unlock()
	for _, ks := range ksStarted {
		if err := ks.stop(); err != nil {
			fmt.Fprintln(os.Stderr, err)
		}
		os.RemoveAll(ks.dir)
	}
}

// needShort is needKeystone for the short-lived-token instance.
func needShort(t *testing.T) *ksInstance {
	t.Helper()
	needKeystone(t)
	<-shortReady
	if shortErr != nil {
		if inCI() {
			t.Fatalf("second Keystone: %v", shortErr)
		}
		t.Skipf("second Keystone unavailable: %v", shortErr)
	}
	return ksShort
}

// issue obtains a project-scoped (or, with project "", unscoped) token.
func (ks *ksInstance) issue(t *testing.T, user, password, project string) string {
	t.Helper()
	auth := map[string]any{
		"identity": map[string]any{"methods": []string{"password"}, "password": map[string]any{
			"user": map[string]any{"name": user, "domain": map[string]string{"id": "default"}, "password": password}}},
		"scope": "unscoped",
	}
	if project != "" {
		auth["scope"] = map[string]any{"project": map[string]any{"name": project, "domain": map[string]string{"id": "default"}}}
	}
	body, _ := json.Marshal(map[string]any{"auth": auth})
	resp, err := http.Post(ks.url+"/auth/tokens?nocatalog", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, resp.Body)
	tok := resp.Header.Get("X-Subject-Token")
	if resp.StatusCode != http.StatusCreated || tok == "" {
		t.Fatalf("issuing a token for %s: %s", user, resp.Status)
	}
	return tok
}

// admin calls the Keystone API as admin and decodes the answer into out.
func (ks *ksInstance) admin(t *testing.T, method, path string, in, out any, hdr ...string) int {
	t.Helper()
	var body io.Reader
	if in != nil {
		b, _ := json.Marshal(in)
		body = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, ks.url+path, body)
	req.Header.Set("X-Auth-Token", ks.seed["ADMIN_TOKEN"])
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode >= 300 {
		t.Fatalf("%s %s: %s %s", method, path, resp.Status, data)
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
	}
	return resp.StatusCode
}

// createUser creates a user with the member role on the demo project and
// returns its id; the user is deleted when the test ends.
func (ks *ksInstance) createUser(t *testing.T, name, password string) string {
	t.Helper()
	var out struct {
		User struct{ ID string } `json:"user"`
	}
	ks.admin(t, "POST", "/users", map[string]any{"user": map[string]any{
		"name": name, "password": password, "domain_id": "default", "enabled": true}}, &out)
	t.Cleanup(func() {
		req, _ := http.NewRequest("DELETE", ks.url+"/users/"+out.User.ID, nil)
		req.Header.Set("X-Auth-Token", ks.seed["ADMIN_TOKEN"])
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
		}
	})
	ks.admin(t, "PUT", "/projects/"+ks.seed["DEMO_PROJECT_ID"]+"/users/"+out.User.ID+"/roles/"+ks.seed["MEMBER_ROLE_ID"], nil, nil)
	return out.User.ID
}

// options returns filter options for ks with the seeded service user.
func (ks *ksInstance) options() Options {
	return Options{
		WWWAuthenticateURI: "https://keystone.example.test/v3",
		AuthURL:            ks.url,
		AuthType:           "password",
		Username:           ks.seed["SERVICE_USER"],
		Password:           ks.seed["SERVICE_PASSWORD"],
		ProjectName:        ks.seed["SERVICE_PROJECT"],
		UserDomainName:     "Default",
		ProjectDomainName:  "Default",
		ServiceTokenRoles:  []string{"service"},

		ServiceTokenRolesRequired: true,
		IncludeServiceCatalog:     true,
		TokenCacheTime:            300,
		NegativeCacheTime:         5 * time.Second,
		TokenCacheMaxEntries:      1000,
		HTTPConnectTimeout:        5 * time.Second,
		HTTPRequestMaxRetries:     1,
	}
}
