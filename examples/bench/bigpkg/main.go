// Command bigpkg writes a file:// conda channel holding one package with a large
// incompressible file, for measuring the memory of an image build
// (examples/bench/bigpackage.sh):
//
//	go run ./examples/bench/bigpkg -size 2048 -out /tmp/bigchan
//
// The archive is a real .conda (a stored zip of zstd tars, sizes in the local headers as
// conda-package-handling writes them) and is streamed to disk: generating it holds
// only buffers, whatever -size is. The content is deterministic (seeded ChaCha8).
package main

import (
	"archive/tar"
	"archive/zip"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"hash/crc32"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"

	"github.com/klauspost/compress/zstd"
)

func main() {
	sizeMB := flag.Int64("size", 2048, "size of the incompressible file, MiB")
	out := flag.String("out", "", "channel directory to create")
	flag.Parse()
	if *out == "" {
		fmt.Fprintln(os.Stderr, "bigpkg: -out is required")
		os.Exit(2)
	}
	if err := run(*sizeMB<<20, *out); err != nil {
		fmt.Fprintln(os.Stderr, "bigpkg:", err)
		os.Exit(1)
	}
}

const name, version, build = "bigdata", "1.0", "0"

func run(size int64, out string) error {
	sub := filepath.Join(out, "linux-64")
	if err := os.MkdirAll(sub, 0o755); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Join(out, "noarch"), 0o755); err != nil {
		return err
	}
	stem := fmt.Sprintf("%s-%s-%s", name, version, build)
	tmp, err := os.MkdirTemp(out, ".bigpkg-*")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)

	// The big file's digest first (paths.json lists it), then the payload tar.
	rnd := func() io.Reader { return io.LimitReader(rand.NewChaCha8([32]byte{15}), size) }
	fh := sha256.New()
	if _, err := io.Copy(fh, rnd()); err != nil {
		return err
	}
	small := []byte("bigdata: generated for reprobuild's memory benchmark\n")
	ss := sha256.Sum256(small)
	paths := map[string]any{"paths_version": 1, "paths": []map[string]any{
		{"_path": "lib/bigdata.bin", "path_type": "hardlink", "sha256": hex.EncodeToString(fh.Sum(nil)), "size_in_bytes": size},
		{"_path": "share/bigdata/README", "path_type": "hardlink", "sha256": hex.EncodeToString(ss[:]), "size_in_bytes": len(small)},
	}}
	index := map[string]any{"name": name, "version": version, "build": build, "build_number": 0,
		"depends": []string{}, "subdir": "linux-64", "arch": "x86_64", "platform": "linux", "license": "MIT", "timestamp": 1700000000000}
	pj, _ := json.Marshal(paths)
	ij, _ := json.Marshal(index)

	pkgTar := filepath.Join(tmp, "pkg.tar.zst")
	if err := writeTarZst(pkgTar, []tarFile{
		{name: "lib/bigdata.bin", size: size, r: rnd()},
		{name: "share/bigdata/README", size: int64(len(small)), data: small},
	}); err != nil {
		return err
	}
	infoTar := filepath.Join(tmp, "info.tar.zst")
	if err := writeTarZst(infoTar, []tarFile{
		{name: "info/index.json", size: int64(len(ij)), data: ij},
		{name: "info/paths.json", size: int64(len(pj)), data: pj},
	}); err != nil {
		return err
	}

	fn := stem + ".conda"
	archive := filepath.Join(sub, fn)
	f, err := os.Create(archive)
	if err != nil {
		return err
	}
	zw := zip.NewWriter(f)
	meta := []byte(`{"conda_pkg_format_version": 2}`)
	for _, m := range []struct{ name, file string }{{"metadata.json", ""}, {"pkg-" + stem + ".tar.zst", pkgTar}, {"info-" + stem + ".tar.zst", infoTar}} {
		if err := storeRaw(zw, m.name, m.file, meta); err != nil {
			f.Close()
			return err
		}
	}
	if err := zw.Close(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}

	// Repodata with the archive's digests.
	af, err := os.Open(archive)
	if err != nil {
		return err
	}
	defer af.Close()
	sh, mh := sha256.New(), md5.New()
	n, err := io.Copy(io.MultiWriter(sh, mh), af)
	if err != nil {
		return err
	}
	rec := map[string]any{}
	for k, v := range index {
		rec[k] = v
	}
	rec["sha256"], rec["md5"], rec["size"] = hex.EncodeToString(sh.Sum(nil)), hex.EncodeToString(mh.Sum(nil)), n
	rd, _ := json.Marshal(map[string]any{"info": map[string]any{"subdir": "linux-64"}, "packages": map[string]any{}, "packages.conda": map[string]any{fn: rec}, "repodata_version": 1})
	if err := os.WriteFile(filepath.Join(sub, "repodata.json"), rd, 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(out, "noarch", "repodata.json"), []byte(`{"info":{"subdir":"noarch"},"packages":{},"packages.conda":{}}`), 0o644); err != nil {
		return err
	}
	fmt.Printf("wrote %s (%d bytes, %d MiB incompressible file)\n", archive, n, size>>20)
	return nil
}

type tarFile struct {
	name string
	size int64
	data []byte
	r    io.Reader
}

func writeTarZst(path string, files []tarFile) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	zw, err := zstd.NewWriter(f, zstd.WithEncoderLevel(zstd.SpeedFastest))
	if err != nil {
		f.Close()
		return err
	}
	tw := tar.NewWriter(zw)
	for _, tf := range files {
		if err := tw.WriteHeader(&tar.Header{Name: tf.name, Mode: 0o644, Size: tf.size, Typeflag: tar.TypeReg, Format: tar.FormatPAX}); err != nil {
			return err
		}
		src := tf.r
		if src == nil {
			src = bytesReader(tf.data)
		}
		if _, err := io.CopyN(tw, src, tf.size); err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	if err := zw.Close(); err != nil {
		return err
	}
	return f.Close()
}

func bytesReader(b []byte) io.Reader { return &sliceReader{b} }

type sliceReader struct{ b []byte }

func (s *sliceReader) Read(p []byte) (int, error) {
	if len(s.b) == 0 {
		return 0, io.EOF
	}
	n := copy(p, s.b)
	s.b = s.b[n:]
	return n, nil
}

// storeRaw adds a stored member with its sizes and CRC in the local header (no data
// descriptor), as conda-package-handling's zipfile does.
func storeRaw(zw *zip.Writer, name, file string, data []byte) error {
	var src io.Reader
	var size int64
	crc := crc32.NewIEEE()
	if file == "" {
		crc.Write(data)
		src, size = bytesReader(data), int64(len(data))
	} else {
		f, err := os.Open(file)
		if err != nil {
			return err
		}
		defer f.Close()
		if size, err = io.Copy(crc, f); err != nil {
			return err
		}
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			return err
		}
		src = f
	}
	w, err := zw.CreateRaw(&zip.FileHeader{Name: name, Method: zip.Store, CRC32: crc.Sum32(),
		CompressedSize64: uint64(size), UncompressedSize64: uint64(size)})
	if err != nil {
		return err
	}
	_, err = io.Copy(w, src)
	return err
}
