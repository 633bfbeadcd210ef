package generate_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ethos-toolkit/ethos/sandbox"
)

// sandboxChildEnv, when set, makes this test binary a sandbox server
// instead of running tests (see startSandboxProcess).
const sandboxChildEnv = "ETHOS_TEST_SANDBOX_CHILD"

func TestMain(m *testing.M) {
	if spec := os.Getenv(sandboxChildEnv); spec != "" {
		os.Exit(runSandboxChild(spec))
	}
	os.Exit(m.Run())
}

// childSpec is what a sandbox child process serves.
type childSpec struct {
	Seed            int64
	RPM             int
	Latency, Jitter time.Duration
}

// runSandboxChild serves the sandbox on a loopback port, prints its URL
// and serves until its standard input closes (the parent ended).
func runSandboxChild(spec string) int {
	var c childSpec
	if err := json.Unmarshal([]byte(spec), &c); err != nil {
		fmt.Fprintln(os.Stderr, "sandbox child:", err)
		return 2
	}
	sb, err := sandbox.Start(context.Background(), "127.0.0.1:0", sandbox.Options{Seed: c.Seed,
		Faults: sandbox.Faults{RPM: c.RPM, LatencyMean: c.Latency, LatencyJitter: c.Jitter}})
	if err != nil {
		fmt.Fprintln(os.Stderr, "sandbox child:", err)
		return 1
	}
	fmt.Println(sb.URL)
	io.Copy(io.Discard, os.Stdin)
	sb.Close()
	return 0
}

// sandboxProcess is a sandbox in a child process, so that a benchmark's
// peak RSS is ethos's alone, as it is against a real provider.
type sandboxProcess struct {
	URL   string
	cmd   *exec.Cmd
	stdin io.Closer
}

func startSandboxProcess(b *testing.B, c childSpec) *sandboxProcess {
	b.Helper()
	spec, _ := json.Marshal(c) // plain numbers always marshal
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), sandboxChildEnv+"="+string(spec))
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	p := &sandboxProcess{cmd: cmd, stdin: stdin}
	b.Cleanup(p.stop)
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		b.Fatalf("sandbox child printed no URL: %v", err)
	}
	p.URL = strings.TrimSpace(line)
	return p
}

// stop ends the child: it exits when its input closes.
func (p *sandboxProcess) stop() {
	p.stdin.Close()
	done := make(chan struct{})
	go func() { p.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		p.cmd.Process.Kill()
		<-done
	}
}

// Stats reads the child's counters.
func (p *sandboxProcess) Stats(b *testing.B) sandbox.Stats {
	resp, err := http.Get(p.URL + "/_sandbox/stats")
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	var st sandbox.Stats
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		b.Fatal(err)
	}
	return st
}

// PeakRSS is the child's peak resident set size in MB.
func (p *sandboxProcess) PeakRSS(b *testing.B) float64 {
	return vmHWM(b, "/proc/"+strconv.Itoa(p.cmd.Process.Pid)+"/status")
}
