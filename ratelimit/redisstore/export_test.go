package redisstore

import "time"

// SetClock makes s use now instead of the Redis server's clock.
func SetClock(s *Store, now func() time.Time) { s.now = now }

// BucketKey exposes the name of a bucket's Redis key.
var BucketKey = (*Store).bucketKey
