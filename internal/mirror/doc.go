// Package mirror keeps a local folder a copy of a model repository held in
// an object store (models_dir: s3://bucket/prefix/), so that the registry
// and the repository code go on reading a local folder, as they always did.
//
// # Why a mirror and not a second repository
//
// Every rule of the repository (the <name>/v<N>/ layout, model.yaml, which
// file is the artifact, symbolic links refused, a version loaded only once
// it looks the same on two scans, the state file with each name's default)
// is written once, against a folder. A mirror brings the store to that
// folder instead of teaching each rule a second backend: Sync copies what
// changed (each object kept with its ETag, so an unchanged object is never
// fetched twice), and the registry's existing poll finds the new versions.
//
// # What goes where
//
//   - Sync (at start, then every poll interval) lists the store and fetches
//     every <name>/<vN>/<file> and the state file (.mlserve-state.json)
//     whose ETag differs from the copy's. A version new to the folder is
//     fetched into a temporary folder and renamed into place whole, so a
//     scan never sees half of it. Objects that break the layout are logged
//     once and skipped. A deleted object is not deleted from the folder:
//     the registry never unloads a version whose folder went away either.
//   - Uploads (POST /models) reach the store through model.Publisher before
//     they are committed locally: the version's files first (manifest,
//     other files, the artifact), then a marker, <name>/<vN>/.mlserve-version,
//     listing each file with its ETag. A version that has a marker is taken
//     only once every file it lists has that ETag, so another replica never
//     fetches half an upload; a version without one (copied in by hand) is
//     taken as it is, and the registry's two-scan rule waits until the copy
//     settles. A version the store already holds is refused (model.ErrExists),
//     so two replicas cannot both upload <name>/v3. An upload that fails
//     removes what it put (the object it was putting too: a stalled store
//     may have kept it), so its files are never taken for a version copied
//     in by hand and the same upload can be made again.
//   - The store going away (a listing or a fetch that fails) changes nothing
//     that serves: the folder keeps what it has, the failure is logged once,
//     and its end is logged once when the store answers again.
//
// # Limits
//
// A listing holds at most Options.MaxObjects objects (ErrTooMany past it), so
// a bucket of millions cannot exhaust memory; each fetch and upload runs
// under the caller's context, and a store's own stall timeout cuts one
// that stops moving sooner (internal/mirror/s3: a listing page, a stretch
// of download or of upload body without progress, an answer not come).
package mirror
