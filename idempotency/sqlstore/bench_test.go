package sqlstore_test

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatekey/gatekey/idempotency"
	"github.com/gatekey/gatekey/idempotency/sqlstore"
)

// benchAnswer is a typical kept answer: a JSON body of 1 KiB.
var benchAnswer = &idempotency.Answer{
	Status: http.StatusCreated,
	Header: http.Header{"Content-Type": {"application/json"}, "Location": {"/v1/monitors/mon_1"}},
	Body:   []byte(`{"id":"mon_1","name":"` + strings.Repeat("x", 1000) + `"}`),
}

func benchKey(i uint64) string { return "key-" + strconv.FormatUint(i, 10) }

var benchFP = fingerprint("POST /v1/monitors")

// benchRun runs op, numbered from 0, on each database: SQLite in a file
// (WAL, one connection) and in memory, and PostgreSQL as the tests run it
// (on loopback, with fsync off: the figure is the statements', not a
// disk's), reporting allocations. prepare, if not nil, runs once before
// the timer starts. setup, if not nil, runs with the timer stopped before
// each batch of 1024 ops, with the number of the batch's first op; then
// op runs serially only, otherwise serially and in parallel.
func benchRun(b *testing.B, prepare func(s *sqlstore.Store) error, setup func(s *sqlstore.Store, first uint64) error, op func(s *sqlstore.Store, i uint64) error) {
	for _, dc := range databases {
		b.Run(dc.name, func(b *testing.B) {
			dc.require(b)
			modes := []bool{false, true}
			if setup != nil {
				modes = modes[:1]
			}
			for _, par := range modes {
				name := "serial"
				if par {
					name = "parallel"
				}
				b.Run(name, func(b *testing.B) {
					s := newStore(b, dc.open(b), dc.d, sqlstore.Config{Timeout: 10 * time.Second})
					if prepare != nil {
						if err := prepare(s); err != nil {
							b.Fatal(err)
						}
					}
					b.ReportAllocs()
					if par {
						var next atomic.Uint64
						b.RunParallel(func(pb *testing.PB) {
							for pb.Next() {
								if err := op(s, next.Add(1)); err != nil {
									b.Error(err)
									return
								}
							}
						})
						return
					}
					var i uint64
					for b.Loop() {
						if setup != nil && i%1024 == 0 {
							b.StopTimer()
							if err := setup(s, i); err != nil {
								b.Fatal(err)
							}
							b.StartTimer()
						}
						if err := op(s, i); err != nil {
							b.Fatal(err)
						}
						i++
					}
				})
			}
		})
	}
}

// BenchmarkBegin measures a Begin that claims a new key (a first
// request): one upsert.
func BenchmarkBegin(b *testing.B) {
	benchRun(b, nil, nil, func(s *sqlstore.Store, i uint64) error {
		_, ok, err := s.Begin(context.Background(), "acct", benchKey(i), benchFP, i+1, time.Minute)
		if err == nil && !ok {
			b.Error("Begin of a new key did not claim it")
		}
		return err
	})
}

// BenchmarkFinish measures a Finish that keeps a 1 KiB answer, for keys
// claimed beforehand with the timer stopped: one UPDATE.
func BenchmarkFinish(b *testing.B) {
	benchRun(b, nil, func(s *sqlstore.Store, first uint64) error {
		for i := first; i < first+1024; i++ {
			if _, _, err := s.Begin(context.Background(), "acct", benchKey(i), benchFP, i+1, time.Minute); err != nil {
				return err
			}
		}
		return nil
	}, func(s *sqlstore.Store, i uint64) error {
		ok, err := s.Finish(context.Background(), "acct", benchKey(i), i+1, benchAnswer, time.Hour)
		if err == nil && !ok {
			b.Error("Finish of a claimed key did not keep the answer")
		}
		return err
	})
}

// BenchmarkReplay measures a Begin that finds a 1 KiB answer kept (a
// retry): the upsert that claims nothing, then the SELECT.
func BenchmarkReplay(b *testing.B) {
	const keys = 256
	benchRun(b, func(s *sqlstore.Store) error {
		for i := range uint64(keys) {
			if _, _, err := s.Begin(context.Background(), "acct", benchKey(i), benchFP, i+1, time.Minute); err != nil {
				return err
			}
			if _, err := s.Finish(context.Background(), "acct", benchKey(i), i+1, benchAnswer, time.Hour); err != nil {
				return err
			}
		}
		return nil
	}, nil, func(s *sqlstore.Store, i uint64) error {
		rec, ok, err := s.Begin(context.Background(), "acct", benchKey(i%keys), benchFP, 1<<32+i, time.Minute)
		if err == nil && (ok || rec.Answer == nil) {
			b.Error("Begin of an answered key did not replay it")
		}
		return err
	})
}
