// go_io — bench/iobench.c's "tasks" workload in Go: a 64-byte ping-pong
// over a Unix socketpair between two goroutines, each end a net.Conn (so
// reads park on Go's netpoller). Prints "io_pingpong_go <ns/op> ns/op".
//
//	go_io [n]
package main

import (
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"syscall"
	"time"
)

const msg = 64

func conn(fd int) net.Conn {
	f := os.NewFile(uintptr(fd), "sock")
	c, err := net.FileConn(f)
	if err != nil {
		panic(err)
	}
	f.Close()
	return c
}

func main() {
	n := 100000
	if len(os.Args) > 1 {
		n, _ = strconv.Atoi(os.Args[1])
	}
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM, 0)
	if err != nil {
		panic(err)
	}
	a, b := conn(fds[0]), conn(fds[1])
	done := make(chan struct{})
	go func() {
		buf := make([]byte, msg)
		for i := 0; i < n; i++ {
			if _, err := io.ReadFull(b, buf); err != nil {
				panic(err)
			}
			if _, err := b.Write(buf); err != nil {
				panic(err)
			}
		}
		close(done)
	}()
	buf := make([]byte, msg)
	t0 := time.Now()
	for i := 0; i < n; i++ {
		if _, err := a.Write(buf); err != nil {
			panic(err)
		}
		if _, err := io.ReadFull(a, buf); err != nil {
			panic(err)
		}
	}
	<-done
	fmt.Printf("io_pingpong_go %.1f ns/op\n", float64(time.Since(t0).Nanoseconds())/float64(n))
}
