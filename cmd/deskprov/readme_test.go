package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// readmeBlock is one fenced block of README.md.
type readmeBlock struct {
	lang  string
	line  int // of the opening fence
	lines []string
}

func readmeBlocks(t *testing.T, md string) []readmeBlock {
	t.Helper()
	var out []readmeBlock
	var cur *readmeBlock
	for i, line := range strings.Split(md, "\n") {
		if strings.HasPrefix(line, "```") {
			if cur == nil {
				cur = &readmeBlock{lang: strings.TrimPrefix(line, "```"), line: i + 1}
			} else {
				out = append(out, *cur)
				cur = nil
			}
			continue
		}
		if cur != nil {
			cur.lines = append(cur.lines, line)
		}
	}
	if cur != nil {
		t.Fatalf("README.md: the block opened at line %d is never closed", cur.line)
	}
	return out
}

// shellCommands are a shell block's commands, continuation lines joined;
// comment is the text after "#" that follows the command, "" without one.
type shellCommand struct{ cmd, comment string }

var trailingComment = regexp.MustCompile(`\s{2,}#\s?(.*)$`)

func shellCommands(b readmeBlock) []shellCommand {
	var out []shellCommand
	pending := ""
	for _, l := range b.lines {
		if strings.HasSuffix(l, `\`) {
			pending += strings.TrimSuffix(l, `\`) + " "
			continue
		}
		l = pending + l
		pending = ""
		if strings.TrimSpace(l) == "" || strings.HasPrefix(strings.TrimSpace(l), "#") {
			continue
		}
		c := shellCommand{cmd: strings.TrimSpace(l)}
		if m := trailingComment.FindStringSubmatchIndex(l); m != nil {
			c.cmd = strings.TrimSpace(l[:m[0]])
			c.comment = l[m[2]:m[3]]
		}
		out = append(out, c)
	}
	return out
}

// usesDeskprov reports whether a shell command runs the deskprov binary.
func usesDeskprov(cmd string) bool {
	return strings.HasPrefix(cmd, "deskprov ") || strings.Contains(cmd, "| deskprov ")
}

// cleanEnv is the environment without any DESKPROV_* setting of the
// machine running the test, plus extra.
func cleanEnv(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "DESKPROV_") {
			env = append(env, kv)
		}
	}
	return append(env, extra...)
}

// TestREADME: issue 18 item 2 and its test. What README.md tells a
// newcomer to run is run, as a shell runs it: the binary is built with its
// install line, the first command (the server) is started as written and
// must print its banner in bounded time, and the admin CLI block (login in
// the form that works without a terminal, licenses, a user, assignments, the
// list) runs against it, each step exiting 0; the login meant for a terminal
// must fail without one and point at --password-stdin, as the README says.
// The README links nothing that is not in the repository.
func TestREADME(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs deskprov as the README says")
	}
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("no bash to run the README's commands")
	}
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	md := string(raw)
	blocks := readmeBlocks(t, md)
	if len(blocks) == 0 {
		t.Fatal("README.md has no fenced blocks")
	}

	t.Run("links point into the repository", func(t *testing.T) {
		if strings.Contains(md, "shared/") {
			t.Error("README.md names shared/, which is not in the repository")
		}
		for _, m := range regexp.MustCompile(`\]\(([^)\s]+)\)`).FindAllStringSubmatch(md, -1) {
			target := m[1]
			if strings.Contains(target, "://") || strings.HasPrefix(target, "#") || strings.HasPrefix(target, "mailto:") {
				continue
			}
			file, _, _ := strings.Cut(target, "#")
			if _, err := os.Stat(filepath.Join(root, file)); err != nil {
				t.Errorf("README.md links %s, which is not in the repository", target)
			}
		}
	})

	first := shellCommands(blocks[0])
	if len(first) < 2 || first[0].cmd != "go run ./cmd/deskprov serve" || first[1].cmd != "./scripts/test" {
		t.Fatalf("README.md's first two commands changed: %+v", first)
	}
	if fi, err := os.Stat(filepath.Join(root, "scripts", "test")); err != nil || fi.Mode()&0o111 == 0 {
		t.Fatalf("./scripts/test is not an executable file: %v", err)
	}

	// The binary: built before any block uses it.
	var install string
	installBlock, firstUse := -1, -1
	for i, b := range blocks {
		if b.lang != "sh" {
			continue
		}
		for _, c := range shellCommands(b) {
			if strings.HasPrefix(c.cmd, "go install ./cmd/deskprov") && install == "" {
				install, installBlock = c.cmd, i
			}
			if usesDeskprov(c.cmd) && firstUse < 0 {
				firstUse = i
			}
		}
	}
	if install == "" {
		t.Fatal("README.md does not say how to build the deskprov binary (go install ./cmd/deskprov)")
	}
	if firstUse >= 0 && firstUse < installBlock {
		t.Fatalf("README.md runs deskprov (block at line %d) before it says how to get it (line %d)", blocks[firstUse].line, blocks[installBlock].line)
	}
	bin := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	build := exec.CommandContext(ctx, "bash", "-c", install)
	build.Dir = root
	build.Env = cleanEnv("GOBIN=" + bin)
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", install, err, out)
	}
	if _, err := os.Stat(filepath.Join(bin, "deskprov")); err != nil {
		t.Fatalf("%s put no deskprov in $GOBIN: %v", install, err)
	}

	// The first command, as written, on a data directory and port of the
	// test's own; it must print its banner within the bound.
	const password = "Readme-admin-password-1"
	serve := exec.Command("bash", "-c", blocks[0].lines[0])
	serve.Dir = root
	serve.Env = cleanEnv("DESKPROV_DATA_DIR="+t.TempDir(), "DESKPROV_LISTEN=127.0.0.1:0", "DESKPROV_ADMIN_PASSWORD="+password, "DESKPROV_LOG_LEVEL=warn")
	serve.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // go run's child is stopped with it
	stdout, err := serve.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr lockedBuffer
	serve.Stderr = &stderr
	if err := serve.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	banner := make(chan string, 1)
	go func() {
		var seen strings.Builder
		sc := bufio.NewScanner(stdout)
		sent := false
		for sc.Scan() {
			seen.WriteString(sc.Text() + "\n")
			if !sent && strings.HasPrefix(sc.Text(), "Stop with Ctrl-C") {
				banner <- seen.String()
				sent = true
			}
		}
		if !sent {
			banner <- seen.String()
		}
		exited <- serve.Wait()
	}()
	stop := func() {
		_ = syscall.Kill(-serve.Process.Pid, syscall.SIGINT)
		select {
		case <-exited:
		case <-time.After(30 * time.Second):
			_ = syscall.Kill(-serve.Process.Pid, syscall.SIGKILL)
			<-exited
			t.Error("the server did not stop within 30s of Ctrl-C")
		}
	}
	var text string
	select {
	case text = <-banner:
	case <-ctx.Done():
		_ = syscall.Kill(-serve.Process.Pid, syscall.SIGKILL)
		t.Fatalf("%s printed no banner in time\nstderr:\n%s", blocks[0].lines[0], stderr.String())
	}
	defer stop()
	m := regexp.MustCompile(`public URL\s+(\S+)`).FindStringSubmatch(text)
	if !strings.HasPrefix(text, "deskprov is running") || m == nil {
		t.Fatalf("%s: no banner:\n%s\nstderr:\n%s", blocks[0].lines[0], text, stderr.String())
	}
	base := m[1]

	// The banner the README shows has the lines the real one has.
	for _, b := range blocks {
		if len(b.lines) == 0 || b.lines[0] != "deskprov is running" {
			continue
		}
		for _, l := range b.lines[1:] {
			label := strings.TrimSpace(regexp.MustCompile(`\s{2,}.*$`).ReplaceAllString(strings.TrimSpace(l), ""))
			if label != "" && !strings.Contains(text, "  "+label+" ") {
				t.Errorf("README.md's banner has %q; the server's has no such line:\n%s", label, text)
			}
		}
	}

	// The admin CLI block, step by step against the server.
	var steps []shellCommand
	for _, b := range blocks {
		cmds := shellCommands(b)
		for _, c := range cmds {
			if strings.HasPrefix(c.cmd, "deskprov login ") {
				steps = cmds
				break
			}
		}
		if steps != nil {
			break
		}
	}
	if steps == nil {
		t.Fatal("README.md has no block with deskprov login")
	}
	cliEnv := cleanEnv("PATH="+bin+string(os.PathListSeparator)+os.Getenv("PATH"),
		"DESKPROV_CONFIG="+filepath.Join(t.TempDir(), "cli.json"), "HOME="+t.TempDir(), "ADMIN_PASSWORD="+password)
	var did []string
	for _, c := range steps {
		line := strings.ReplaceAll(c.cmd, "http://127.0.0.1:8080", base)
		run := exec.CommandContext(ctx, "bash", "-c", line)
		run.Env = cliEnv
		run.Stdin = bytes.NewReader(nil) // no terminal, as in a script
		out, err := run.CombinedOutput()
		interactive := strings.HasPrefix(c.cmd, "deskprov login ") && !strings.Contains(c.cmd, "--password")
		switch {
		case interactive:
			if err == nil || !strings.Contains(string(out), "--password-stdin") {
				t.Errorf("%s without a terminal: %v\n%s\nwant a failure pointing at --password-stdin", c.cmd, err, out)
			}
		case err != nil:
			t.Fatalf("%s: %v\n%s", c.cmd, err, out)
		}
		fields := strings.Fields(strings.TrimSpace(c.cmd[strings.Index(c.cmd, "deskprov "):]))
		if len(fields) >= 3 {
			did = append(did, fields[1]+" "+fields[2])
		}
		if strings.HasPrefix(c.cmd, "deskprov user list") && !strings.Contains(string(out), "amosm@contoso.com") {
			t.Errorf("%s: the user the README created is not listed:\n%s", c.cmd, out)
		}
	}
	have := strings.Join(did, "\n")
	for _, want := range []string{"login --server", "license set", "user create", "license assign", "user list"} {
		if !strings.Contains(have, want) {
			t.Errorf("README.md's CLI block has no %q step (it has %q)", want, did)
		}
	}
	if !strings.Contains(fmt.Sprint(steps), "--password-stdin") {
		t.Error("README.md's CLI block has no login that works in scripts (--password-stdin)")
	}
}
