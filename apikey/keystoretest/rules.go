package keystoretest

// rules are the rules of the suite, in the order they run. The package
// doc lists them; a test checks that it names every one.
var rules = []rule{
	// Records (records.go).
	{"RoundTrip", checkRoundTrip},
	{"TimePrecision", checkTimePrecision},
	{"DeepCopy", checkDeepCopy},
	{"CaseSensitiveIDs", checkCaseSensitiveIDs},
	// Errors (errors.go).
	{"CreateConflict", checkCreateConflict},
	{"LookupNotFound", checkLookupNotFound},
	{"UpdateNotFound", checkUpdateNotFound},
	{"ContextCanceled", checkContextCanceled},
	{"ContextDeadline", checkContextDeadline},
	// Writes (writes.go).
	{"Update", checkUpdate},
	{"UpdateKeepsRevocation", checkUpdateKeepsRevocation},
	{"UpdateKeepsLastUse", checkUpdateKeepsLastUse},
	{"TouchKeys", checkTouchKeys},
	// Listing (list.go).
	{"ListFilter", checkListFilter},
	{"ListOrder", checkListOrder},
	{"ListRecords", checkListRecords},
	// Concurrency (concurrent.go).
	{"Concurrent", checkConcurrent},
}
