package redisstore

// Key exposes the name of a balance's Redis key.
var Key = (*Store).key
