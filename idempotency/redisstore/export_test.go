package redisstore

// Key exposes the name of a record's Redis key.
var Key = (*Store).key
