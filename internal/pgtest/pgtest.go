// Package pgtest gives tests a PostgreSQL to run against: the server named
// by $ETHOS_TEST_POSTGRES_URL when it is set, and otherwise a throwaway
// server it starts for the test binary (Debian's postgresql package, run
// from a temporary directory on a Unix socket, with no TCP port at all)
// and stops when the tests end. Each test gets a schema of its own, so
// tests run in parallel on one server.
//
// A package that uses it calls Main from its TestMain:
//
//	func TestMain(m *testing.M) { pgtest.Main(m) }
//
// Without PostgreSQL the tests that ask for it fail, saying how to install
// it; they never skip.
package pgtest

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// EnvURL names the variable that points the tests at an existing server
// instead of a throwaway one. The role it names must be allowed to create
// and drop schemas in its database.
const EnvURL = "ETHOS_TEST_POSTGRES_URL"

// installHint is what a test says when there is no PostgreSQL to run.
const installHint = "install PostgreSQL (apt-get install postgresql; make test does it) or set " + EnvURL + " to a database the tests may create schemas in"

var (
	mu      sync.Mutex
	inMain  bool
	srv     *server // started on first use
	srvErr  error
	admin   *pgxpool.Pool // connections to srv's database, for creating schemas
	schemas int           // schemas made so far, for their names
)

// Main runs the tests of m and then stops the server they used, if pgtest
// started one, before the test binary exits with their result.
func Main(m *testing.M) {
	mu.Lock()
	inMain = true
	mu.Unlock()
	code := m.Run()
	if err := shutdown(); err != nil {
		fmt.Fprintln(os.Stderr, "pgtest:", err)
		if code == 0 {
			code = 1
		}
	}
	os.Exit(code)
}

// URL returns the URL of a new, empty schema on the test server (it is the
// search_path of every connection made with the URL), dropped when the
// test ends. It starts the server on first use.
func URL(t testing.TB) string {
	t.Helper()
	base, pool, err := serverFor()
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	mu.Lock()
	schemas++
	n := schemas
	mu.Unlock()
	var suffix [4]byte
	rand.Read(suffix[:])
	// The process and a random suffix keep schemas apart when several
	// test binaries share one server through EnvURL.
	name := fmt.Sprintf("ethos_test_%d_%d_%s", os.Getpid(), n, hex.EncodeToString(suffix[:]))
	ctx := context.Background()
	if _, err := pool.Exec(ctx, "CREATE SCHEMA "+pgx.Identifier{name}.Sanitize()); err != nil {
		t.Fatalf("pgtest: create schema %s: %v", name, err)
	}
	t.Cleanup(func() {
		if _, err := pool.Exec(context.Background(), "DROP SCHEMA "+pgx.Identifier{name}.Sanitize()+" CASCADE"); err != nil {
			t.Errorf("pgtest: drop schema %s: %v", name, err)
		}
	})
	u, err := withSearchPath(base, name)
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	return u
}

// withSearchPath returns rawURL with search_path set to schema, a setting
// pgx sends when it connects.
func withSearchPath(rawURL, schema string) (string, error) {
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return "", fmt.Errorf("%s must be a postgres:// URL", EnvURL)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String(), nil
}

// serverFor returns the URL of the test server's database and a pool of
// connections to it, starting the server when it is the first call.
func serverFor() (string, *pgxpool.Pool, error) {
	mu.Lock()
	defer mu.Unlock()
	if !inMain {
		return "", nil, errors.New("the test binary must stop the server it starts: add func TestMain(m *testing.M) { pgtest.Main(m) }")
	}
	if admin != nil || srvErr != nil {
		return adminURL(), admin, srvErr
	}
	base := os.Getenv(EnvURL)
	if base == "" {
		srv, srvErr = start()
		if srvErr != nil {
			return "", nil, srvErr
		}
		base = srv.url
	}
	admin, srvErr = pgxpool.New(context.Background(), base)
	if srvErr != nil {
		srvErr = fmt.Errorf("connect to %s: %w", base, srvErr)
	}
	return base, admin, srvErr
}

func adminURL() string {
	if srv != nil {
		return srv.url
	}
	return os.Getenv(EnvURL)
}

// shutdown closes the admin pool and stops the server pgtest started.
func shutdown() error {
	mu.Lock()
	defer mu.Unlock()
	if admin != nil {
		admin.Close()
		admin = nil
	}
	if srv == nil {
		return nil
	}
	err := srv.stop()
	srv = nil
	return err
}

// server is a PostgreSQL started from a temporary directory.
type server struct {
	dir  string // holds the data directory and the socket
	url  string
	cmd  *exec.Cmd
	done chan error // the postgres process's exit
}

// binDir finds the directory of initdb and postgres: on PATH, else the
// newest of Debian's /usr/lib/postgresql/<version>/bin.
func binDir() (string, error) {
	if p, err := exec.LookPath("initdb"); err == nil {
		if resolved, err := filepath.EvalSymlinks(p); err == nil {
			p = resolved
		}
		dir := filepath.Dir(p)
		if _, err := os.Stat(filepath.Join(dir, "postgres")); err == nil {
			return dir, nil
		}
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	slices.SortFunc(dirs, func(a, b string) int { return version(b) - version(a) })
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "initdb")); err == nil {
			return d, nil
		}
	}
	return "", errors.New("no PostgreSQL server found (initdb is neither on PATH nor under /usr/lib/postgresql/*/bin): " + installHint)
}

// version is the major version in a /usr/lib/postgresql/<version>/bin path.
func version(dir string) int {
	v, _ := strconv.Atoi(filepath.Base(filepath.Dir(dir)))
	return v
}

// start initialises a cluster in a new temporary directory and runs
// postgres on a Unix socket there. As root it runs both as the postgres
// user, since initdb refuses to run as root; that user must be able to
// enter the directory, so it is made under os.TempDir (which must be
// enterable by all, as /tmp is) and given to that user, instead of being a
// test's private temporary directory.
func start() (*server, error) {
	bin, err := binDir()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "ethos-pgtest-")
	if err != nil {
		return nil, err
	}
	s := &server{dir: dir}
	cred, err := s.prepareDir()
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	data := filepath.Join(dir, "data")
	initdb := exec.Command(filepath.Join(bin, "initdb"), "-D", data, "-U", "postgres",
		"--auth=trust", "--encoding=UTF8", "--locale=C", "--no-sync")
	initdb.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	if out, err := initdb.CombinedOutput(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("initdb: %v\n%s", err, out)
	}
	if err := s.run(bin, data, cred); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	s.url = "postgres://postgres@/postgres?host=" + url.QueryEscape(dir) + "&sslmode=disable"
	return s, nil
}

// prepareDir makes dir usable by the user postgres runs as, and returns
// that user's credential when it is not the current one.
func (s *server) prepareDir() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("running as root, the server must run as the postgres user, which does not exist: %v; %s", err, installHint)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	if err := os.Chown(s.dir, uid, gid); err != nil {
		return nil, err
	}
	// The user must be able to enter every directory above it too.
	for d := filepath.Dir(s.dir); ; d = filepath.Dir(d) {
		fi, err := os.Stat(d)
		if err != nil {
			return nil, err
		}
		if fi.Mode().Perm()&0o001 == 0 {
			return nil, fmt.Errorf("the postgres user cannot enter %s (mode %v), above the server's directory %s: point TMPDIR at a directory everyone can enter, such as /tmp", d, fi.Mode().Perm(), s.dir)
		}
		if d == filepath.Dir(d) {
			break
		}
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
}

// readyLine is what postgres logs once it accepts connections.
const readyLine = "database system is ready to accept connections"

// run starts postgres as a child of this process and returns once it
// accepts connections. The child is sent SIGQUIT (immediate shutdown) if
// this process dies before stopping it, so a test binary that is killed
// or times out leaves no server running.
func (s *server) run(bin, data string, cred *syscall.Credential) error {
	s.done = make(chan error, 1)
	ready := make(chan error, 1)
	go func() {
		// The parent-death signal is tied to the thread that started the
		// child: keep this goroutine, and so the thread, until it exits.
		runtime.LockOSThread()
		cmd := exec.Command(filepath.Join(bin, "postgres"), "-D", data,
			"-k", s.dir, // the socket's directory
			"-c", "listen_addresses=", // no TCP
			"-c", "lc_messages=C", // readyLine in English
			"-c", "max_connections=200",
			// A throwaway server: durability buys nothing.
			"-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off")
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred, Pdeathsig: syscall.SIGQUIT}
		logPath := filepath.Join(s.dir, "postgres.log")
		logFile, err := os.Create(logPath)
		if err != nil {
			ready <- err
			return
		}
		defer logFile.Close()
		stderr, err := cmd.StderrPipe()
		if err != nil {
			ready <- err
			return
		}
		if err := cmd.Start(); err != nil {
			ready <- fmt.Errorf("start postgres: %w", err)
			return
		}
		s.cmd = cmd
		sc := bufio.NewScanner(stderr)
		announced := false
		for sc.Scan() {
			fmt.Fprintln(logFile, sc.Text())
			if !announced && strings.Contains(sc.Text(), readyLine) {
				announced = true
				ready <- nil
			}
		}
		io.Copy(logFile, stderr)
		err = cmd.Wait()
		if !announced {
			log, _ := os.ReadFile(logPath)
			ready <- fmt.Errorf("postgres exited before accepting connections (%v):\n%s", err, log)
		}
		s.done <- err
	}()
	return <-ready
}

// stop shuts the server down at once (nothing in it is kept) and removes
// its directory.
func (s *server) stop() error {
	if err := s.cmd.Process.Signal(syscall.SIGQUIT); err != nil {
		return fmt.Errorf("stop postgres: %w", err)
	}
	<-s.done // exits with an error status after SIGQUIT, by design
	return os.RemoveAll(s.dir)
}
