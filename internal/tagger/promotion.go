package tagger

import (
	"context"
	"errors"
	"time"

	"github.com/fleetpush/fleetpush/internal/registry"
)

// Promotion is the record of a deliberate move of a channel, kept in the
// repository under tags.PromotionTag(Channel).
type Promotion struct {
	Channel string    `json:"channel"`
	Version string    `json:"version"`
	Digest  string    `json:"digest"`
	At      time.Time `json:"at"`
	// Over are the stable releases above Version in the repository when it
	// was promoted: the releases the promotion rolled back over. Publish never
	// moves the channel to one of them again.
	Over []string `json:"over,omitempty"`
}

// Holds reports whether the promotion keeps the channel from moving to
// version: version is one of the releases it rolled back over.
func (p *Promotion) Holds(version string) bool {
	if p == nil {
		return false
	}
	for _, v := range p.Over {
		if v == version {
			return true
		}
	}
	return false
}

// PromotePlan is what Promote will do: the record it writes and the move of
// the channel. A dry run prints it and stops.
type PromotePlan struct {
	Record Promotion
	Move   Move
	// Previous is the record it replaces; nil if none.
	Previous *Promotion `json:"-"`
	target   *registry.Manifest
}

// PlanPromote reads the repository and plans moving channel to version,
// whose manifest is m (read by the caller, who also checked its signature).
// It writes nothing.
func (t *Tagger) PlanPromote(ctx context.Context, channel, version string, m *registry.Manifest) (PromotePlan, error) {
	return PromotePlan{}, errors.New("tagger: PlanPromote is not implemented yet")
}

// Promote carries out p: it writes the promotion record first, then moves the
// channel and reads it back. In that order a publish that reads the record
// after the channel moved always sees the record; a publish that moved the
// channel just before, reads the record after its own move and hands the
// channel back (see Apply).
func (t *Tagger) Promote(ctx context.Context, p PromotePlan) (Outcome, error) {
	return Outcome{}, errors.New("tagger: Promote is not implemented yet")
}

// ReadPromotion returns the promotion record of channel, or nil when there is
// none (never promoted, or promoted by a fleetpush that kept no record).
func (t *Tagger) ReadPromotion(ctx context.Context, channel string) (*Promotion, error) {
	return nil, errors.New("tagger: ReadPromotion is not implemented yet")
}
