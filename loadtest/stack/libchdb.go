package stack

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
)

// Libchdb pins the chDB release that carries the ClickHouse engine.
type Libchdb struct {
	// Package is the npm package that ships libchdb.so.
	Package string
	// Version is the npm version.
	Version string
	// SHA256 is the checksum of the package tarball as npm serves it.
	SHA256 string
}

// DefaultLibchdb is ClickHouse 26.7 as chDB 26.7.3-stable.1.
func DefaultLibchdb() Libchdb {
	return Libchdb{
		Package: "@chdb/lib-linux-x64-gnu",
		Version: "26.7.3-stable.1",
		SHA256:  "c0d32b129e988f2b9a9a31c9141aecf5e1e2453f9a079efc4d36ab8e3f92b2ad",
	}
}

// DefaultCacheDir is where fetched artefacts are kept across clones and runs.
func DefaultCacheDir() (string, error) {
	if d := os.Getenv("DOCSEARCH_CACHE"); d != "" {
		return d, nil
	}
	d, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("finding the cache directory: %w", err)
	}
	return filepath.Join(d, "docsearch"), nil
}

// ErrFetch marks a failure to obtain libchdb.
var ErrFetch = errors.New("cannot fetch libchdb")

// Ensure returns the path of libchdb.so under cacheDir, fetching it with npm,
// verifying the tarball's checksum and unpacking it when it is not there yet.
// Concurrent callers (parallel test binaries) wait on a file lock.
func (l Libchdb) Ensure(ctx context.Context, log *slog.Logger, cacheDir string) (string, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	dir := filepath.Join(cacheDir, "libchdb", l.Version)
	lib := filepath.Join(dir, "libchdb.so")
	marker := lib + ".sha256"
	if ok := l.verified(marker); ok {
		return lib, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("%w: creating %s: %w", ErrFetch, dir, err)
	}
	lock, err := os.OpenFile(filepath.Join(dir, ".lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return "", fmt.Errorf("%w: opening lock: %w", ErrFetch, err)
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return "", fmt.Errorf("%w: locking %s: %w", ErrFetch, dir, err)
	}
	defer syscall.Flock(int(lock.Fd()), syscall.LOCK_UN) //nolint:errcheck // released on close anyway
	if l.verified(marker) {
		return lib, nil
	}

	log.Info("fetching libchdb (about 180 MB, once)", "package", l.Package, "version", l.Version, "cache", dir)
	tmp, err := os.MkdirTemp(dir, "fetch-")
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrFetch, err)
	}
	defer os.RemoveAll(tmp)
	tgz, err := l.pack(ctx, tmp)
	if err != nil {
		return "", err
	}
	if err := l.unpack(tgz, lib); err != nil {
		return "", err
	}
	if err := os.WriteFile(marker, []byte(l.SHA256+"\n"), 0o644); err != nil {
		return "", fmt.Errorf("%w: writing %s: %w", ErrFetch, marker, err)
	}
	return lib, nil
}

// verified says whether a previous fetch of this exact tarball completed.
func (l Libchdb) verified(marker string) bool {
	b, err := os.ReadFile(marker)
	if err != nil || strings.TrimSpace(string(b)) != l.SHA256 {
		return false
	}
	_, err = os.Stat(strings.TrimSuffix(marker, ".sha256"))
	return err == nil
}

// pack downloads the tarball with npm into dir and checks its checksum.
func (l Libchdb) pack(ctx context.Context, dir string) (string, error) {
	npm, err := exec.LookPath("npm")
	if err != nil {
		return "", fmt.Errorf("%w: npm is not installed (apt-get install npm): %w", ErrFetch, err)
	}
	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, npm, "pack", "--silent", "--pack-destination", dir, l.Package+"@"+l.Version)
	cmd.Stdout = io.Discard
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("%w: npm pack %s@%s: %w: %s", ErrFetch, l.Package, l.Version, err, tail(stderr.String(), 600))
	}
	matches, _ := filepath.Glob(filepath.Join(dir, "*.tgz"))
	if len(matches) != 1 {
		return "", fmt.Errorf("%w: npm pack left %d tarballs in %s", ErrFetch, len(matches), dir)
	}
	sum, err := fileSHA256(matches[0])
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrFetch, err)
	}
	if sum != l.SHA256 {
		return "", fmt.Errorf("%w: checksum mismatch for %s@%s: got %s, want %s", ErrFetch, l.Package, l.Version, sum, l.SHA256)
	}
	return matches[0], nil
}

// unpack extracts package/libchdb.so from tgz to dst atomically.
func (l Libchdb) unpack(tgz, dst string) error {
	f, err := os.Open(tgz)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrFetch, err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		return fmt.Errorf("%w: reading %s: %w", ErrFetch, tgz, err)
	}
	tr := tar.NewReader(zr)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return fmt.Errorf("%w: no libchdb.so in %s", ErrFetch, tgz)
		}
		if err != nil {
			return fmt.Errorf("%w: reading %s: %w", ErrFetch, tgz, err)
		}
		if h.Typeflag != tar.TypeReg || filepath.Base(h.Name) != "libchdb.so" {
			continue
		}
		part := dst + ".part"
		out, err := os.OpenFile(part, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o755)
		if err != nil {
			return fmt.Errorf("%w: %w", ErrFetch, err)
		}
		if _, err := io.Copy(out, tr); err != nil {
			out.Close()
			return fmt.Errorf("%w: unpacking libchdb.so: %w", ErrFetch, err)
		}
		if err := out.Close(); err != nil {
			return fmt.Errorf("%w: %w", ErrFetch, err)
		}
		if err := os.Rename(part, dst); err != nil {
			return fmt.Errorf("%w: %w", ErrFetch, err)
		}
		return nil
	}
}

func fileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("hashing %s: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// tail keeps the end of a tool's output, where the reason usually is.
func tail(s string, n int) string {
	s = strings.TrimSpace(s)
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}
