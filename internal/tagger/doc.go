// Package tagger owns fleetpush's registry-facing tag algorithm: it reads a
// component's repository (a registry.Store), decides every tag a run sets and
// why (Plan), and sets them once the artifact is pushed and signed (Apply),
// converging with overlapping runs. Package tags says which tags a ref gets
// and when a moving tag may move, as pure functions of values; this package
// reads the facts those functions need from the registry, at the moments they
// must be read, and writes the outcome.
//
// # Plan, then apply
//
// Plan is read-only. It reports whether a tag already holds this content (the
// run then reuses that digest rather than pushing), fails on an immutable
// conflict (an error wrapping tags.ErrImmutable that says what to do), and
// lists every tag move with its action and reason. A dry run prints the plan
// and stops; a real run pushes and signs the digest and hands the plan to
// Apply. Apply decides each move again on a fresh read, since seconds (signing)
// pass between the two and other runs may have moved tags meanwhile; except
// when the plan found every tag already on the artifact: that run writes
// nothing, is complete as of the plan's reads, and a warm publish costs those
// reads alone (the immutable tag and latest: two requests).
//
// # Moving tags
//
// latest moves forward only (tags.MoveLatest). After moving it, Apply re-reads
// it and decides again, so overlapping runs of one branch end at the newest
// commit whichever finishes last; and since a registry has no conditional
// write, a run that wrote latest also looks for builds of the branch tagged
// since its plan was made and hands latest to the newest of them when that is
// newer than its own. The tags "before" are listed only by a run that may
// write latest: by the plan when latest is not already on the artifact, else
// (latest moved away meanwhile) by Apply just before its write. A branch
// build that moves latest writes its immutable tag right after its first
// write of latest and checks latest after that: so a newer build whose move
// another run overwrote is always among the builds that run finds tagged
// since its plan (see moveLatest).
//
// latest-stable moves to a stable release that is at least every stable
// release in the repository (tags.MoveStable), except the releases a
// deliberate promotion rolled back over (see Promotions). A run that moved it
// and then sees a higher release land hands it over (repair).
//
// # Release claims
//
// A version tag is written only if absent, and of two concurrent releases of
// one version with different content exactly one wins; the loser fails with
// an error wrapping tags.ErrImmutable and never touches the winner's tag.
// Registries have no compare-and-swap and tags are last-writer-wins
// registers, so reading after writing is not enough (A reads "absent", B
// writes, B reads its own tag back, A's write lands and A reads its own tag
// back: both "won" and B's release changed under it). The writers therefore
// agree through claims, a mutual-exclusion protocol over plain tag reads,
// writes and lists:
//
//  1. Read the version tag: present with this digest (or with the same content
//     layer) is done; with other content it is the immutable-version error.
//  2. Raise a claim: write a small record manifest (never the artifact's own:
//     tags of one manifest cannot be told apart) under a tag of this writer
//     alone, tags.ClaimTag(version, nonce), whose annotations say the version,
//     the digest this writer wants to release and when it claimed.
//  3. List the tags and read every other claim of the version. A claim is live
//     unless withdrawn (re-pointed at the tombstone record) or older than the
//     claim lease (judged by the claim-time annotation and the injected
//     clock, so a killed run never blocks a version forever). Live claims for
//     the same digest do not conflict: both writers write the same thing.
//  4. No live conflicting claim: this writer is in the critical section. It
//     reads the version tag again: absent → write it and read it back; other
//     content → the immutable-version error. Then it withdraws its claim. A
//     conflicting claim older than this writer's (claim time, then nonce)
//     has priority: this writer withdraws its claim, waits until that claim
//     is withdrawn or stale, or the version tag appears (a writer killed
//     after its version write landed leaves its claim live until the lease
//     ends), and starts again at 1. A conflicting claim younger
//     than this one must yield: this writer keeps its claim and lists again.
//
// Safety (two writers A and B of different content are never both in the
// critical section, and a writer entering it sees everything a previous one
// wrote): each writer lists only after its own claim is written, and keeps
// its claim live from that write until it leaves the critical section. Say A
// enters after a list L_A that showed B's claim not live. B's latest claim
// write either came after L_A, so B's own list follows it and shows A's
// claim live, and B does not enter before A withdraws, which A does only
// after its version write completed, so B's read in the critical section sees
// A's tag and B fails as the loser; or B's claim was withdrawn before L_A,
// which B does only when it did not enter, or after it left the critical
// section having written the version tag, which A's read then sees. The
// priority order only decides who waits (it prevents two writers from
// yielding to each other for ever); it does not carry the safety argument.
//
// The argument assumes what every registry in use gives: a read or list
// started after a write completed sees it. It also assumes that no write of
// the critical section is still in flight when the claim stops counting:
// a writer whose version write returned an error keeps its claim (it lapses
// with the lease rather than being withdrawn), and a writer enters the
// critical section only while its claim is younger than half the lease, so
// the clocks of two runners may differ, and a critical section (three
// requests, each with its own deadline) may take, up to half the lease
// before another writer could take the claim for stale.
//
// A run that is cancelled (SIGTERM) still withdraws its claim, under a
// context of its own, unless a version write of its own may be in flight.
//
// Claims are never deleted (deleting a manifest by digest deletes every tag
// of it on a distribution registry, and GHCR has no delete at all): each
// release run leaves one withdrawn claim tag behind. Their names start with
// tags.RecordPrefix and can never be taken for a release, a branch build or a
// channel (see tags.IsRecord).
//
// # Promotions
//
// promote moves a channel (latest-stable by default) to an existing release
// on purpose, backwards too. Before moving the channel it writes a promotion
// record under tags.PromotionTag(channel): a small manifest whose annotations
// name the channel, the version and digest promoted, when, and the stable
// releases above it that the promotion rolled back over. Publish reads the
// record of the stable tag and leaves those releases out when it decides:
// a re-run of a release that was rolled back over never moves the channel
// again (ActionHold), a new higher release still does (so does a hotfix above
// the promoted version, say v1.2.5 after a rollback from v1.3.0 to v1.2.4),
// and a release that never reached the channel (a run that stopped half-way,
// re-run) still heals. A promotion forward, to a version above every stable
// release (a pre-release on purpose), holds the releases below it the same
// way.
// A run that moved the stable tag reads the record again afterwards, so a
// promotion that landed meanwhile is handed the channel back.
//
// Every channel's promotion is respected, latest-tag's too: the record also
// holds the commits the promotion rolled back over (the one promoted, the one
// the channel pointed at, and those an earlier promotion held), and a main
// push moves latest past it only for a commit strictly newer than all of them
// (tags.PastPromotion): a rollback holds until a newer commit is pushed, as a
// Flux user rolling back staging expects; a re-run of the build rolled back
// from, or of any older one, leaves latest where the promotion put it. The
// record of latest is read only when the tag list (which a run that may move
// latest takes anyway) names it, and again from the list taken after this
// run's write, so a promotion that landed meanwhile is handed latest back.
// A channel that publish never moves (a custom promote channel) needs no
// rule: only promote moves it.
package tagger
