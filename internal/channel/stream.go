package channel

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"sync"
)

// hashPipe reads a document in chunks on its own goroutine, hashing each chunk there,
// and hands the chunks to its Read: a parser reading from it runs on one core while
// the read and the sha256 run on another, and neither holds the whole document. The
// hash is known once Read has returned io.EOF.
type hashPipe struct {
	chunks chan []byte
	free   chan []byte
	stop   chan struct{}
	wg     sync.WaitGroup

	cur    []byte // unread part of the chunk being read
	curBuf []byte // that chunk's whole buffer, returned to free when done

	// Set by the producer before it closes chunks.
	err error
	sum string
}

const (
	pipeChunk   = 1 << 20
	pipeBuffers = 4
)

func newHashPipe(r io.Reader) *hashPipe {
	p := &hashPipe{chunks: make(chan []byte, pipeBuffers), free: make(chan []byte, pipeBuffers), stop: make(chan struct{})}
	for range pipeBuffers {
		p.free <- make([]byte, pipeChunk)
	}
	p.wg.Add(1)
	go p.produce(r)
	return p
}

func (p *hashPipe) produce(r io.Reader) {
	defer p.wg.Done()
	defer close(p.chunks)
	h := sha256.New()
	for {
		var buf []byte
		select {
		case buf = <-p.free:
		case <-p.stop:
			p.err = errPipeClosed
			return
		}
		n, err := io.ReadFull(r, buf[:cap(buf)])
		h.Write(buf[:n])
		if n > 0 {
			select {
			case p.chunks <- buf[:n]:
			case <-p.stop:
				p.err = errPipeClosed
				return
			}
		}
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			p.sum = hex.EncodeToString(h.Sum(nil))
			return
		}
		if err != nil {
			p.err = err
			return
		}
	}
}

var errPipeClosed = errors.New("read after close")

func (p *hashPipe) Read(b []byte) (int, error) {
	for len(p.cur) == 0 {
		if p.curBuf != nil {
			p.free <- p.curBuf[:cap(p.curBuf)]
			p.curBuf = nil
		}
		c, ok := <-p.chunks
		if !ok {
			if p.err != nil {
				return 0, p.err
			}
			return 0, io.EOF
		}
		p.cur, p.curBuf = c, c
	}
	n := copy(b, p.cur)
	p.cur = p.cur[n:]
	return n, nil
}

// finish reads what the consumer left unread and returns the document's sha256 (hex).
func (p *hashPipe) finish() (string, error) {
	if _, err := io.Copy(io.Discard, p); err != nil {
		return "", err
	}
	return p.sum, nil
}

// close stops the producer and waits for it; the source reader may be closed after.
func (p *hashPipe) close() {
	select {
	case <-p.stop:
	default:
		close(p.stop)
	}
	// Drain so a producer blocked on a full channel sees stop.
	go func() {
		for range p.chunks {
		}
	}()
	p.wg.Wait()
}
