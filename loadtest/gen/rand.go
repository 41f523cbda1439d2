package gen

import (
	"math/bits"
)

// The generator's randomness is its own, not math/rand's: a stream must stay
// byte-identical for a seed across Go releases, and every decision is a pure
// function of (seed, salt, index) so that the change phase can re-derive a
// document instead of remembering it.
//
// Floating-point products that are then added are converted explicitly,
// float64(a*b) + c: the conversion forbids the compiler to fuse them into one
// FMA instruction, which some architectures have and others not, so the bytes
// do not depend on the CPU.

// Salts separate the independent random streams derived from one seed.
const (
	saltEpisode uint64 = iota + 1
	saltAttributes
	saltAmend
	saltChange
	saltChain
	saltHome
	saltMerge
	saltIDHigh
	saltIDLow
	saltStream
	saltShuffle
)

// mix is SplitMix64's finalizer: a bijection of uint64 that scatters every bit.
func mix(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}

const golden = 0x9e3779b97f4a7c15

// hash derives a value from a seed, a salt and an index; distinct indexes give
// distinct values for a fixed seed and salt, since mix is a bijection.
func hash(seed, salt, x uint64) uint64 {
	return mix(mix(seed^mix(salt*golden)) + x)
}

// rng is SplitMix64: small, fast, and good enough for synthetic data.
type rng struct{ s uint64 }

func newRNG(seed, salt, x uint64) rng { return rng{s: hash(seed, salt, x)} }

func (r *rng) next() uint64 {
	r.s += golden
	return mix(r.s)
}

// float returns a uniform number in [0, 1).
func (r *rng) float() float64 { return float64(r.next()>>11) * (1.0 / (1 << 53)) }

// intn returns a number in [0, n) for n > 0 (Lemire's multiply, without the
// rejection step: the bias is below 2^-40 for the sizes used here).
func (r *rng) intn(n int) int {
	hi, _ := bits.Mul64(r.next(), uint64(n))
	return int(hi)
}

// between returns a number in [lo, hi) for hi > lo.
func (r *rng) between(lo, hi int64) int64 {
	hi64, _ := bits.Mul64(r.next(), uint64(hi-lo))
	return lo + int64(hi64)
}

// chance reports true with probability p.
func (r *rng) chance(p float64) bool { return r.float() < p }

// normal returns an approximately standard normal number: the Irwin-Hall sum of
// four uniforms, scaled. Its tails stop at ±3.46, which suits vital signs.
func (r *rng) normal() float64 {
	s := r.float() + r.float() + r.float() + r.float()
	return (s - 2) * 1.7320508075688772
}

// skewed returns an index in [0, n) drawn as floor(n * u^2): the density falls
// as 1/sqrt(index), so the first indexes are the heavy ones.
func (r *rng) skewed(n int) int {
	u := r.float()
	i := int(float64(n) * u * u)
	if i >= n {
		i = n - 1
	}
	return i
}

// pick returns an index drawn with the given cumulative weights.
func (r *rng) pick(cum []uint32) int {
	x := uint32(r.intn(int(cum[len(cum)-1])))
	lo, hi := 0, len(cum)-1
	for lo < hi {
		m := (lo + hi) / 2
		if cum[m] > x {
			hi = m
		} else {
			lo = m + 1
		}
	}
	return lo
}

// cumulative turns weights into the running sums pick takes.
func cumulative(weights ...uint32) []uint32 {
	cum := make([]uint32, len(weights))
	var s uint32
	for i, w := range weights {
		s += w
		cum[i] = s
	}
	return cum
}

// documentID is the id of the document with the given ordinal: a version 4
// UUID whose bits come from the seed and the ordinal.
func documentID(seed uint64, ordinal int64) string {
	hi := hash(seed, saltIDHigh, uint64(ordinal))
	lo := hash(seed, saltIDLow, uint64(ordinal))
	hi = hi&^0xf000 | 0x4000
	lo = lo&^(3<<62) | 2<<62
	const hexDigits = "0123456789abcdef"
	var b [36]byte
	j := 0
	for i := range 16 {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			b[j] = '-'
			j++
		}
		var v byte
		if i < 8 {
			v = byte(hi >> (56 - 8*i))
		} else {
			v = byte(lo >> (56 - 8*(i-8)))
		}
		b[j] = hexDigits[v>>4]
		b[j+1] = hexDigits[v&0xf]
		j += 2
	}
	return string(b[:])
}
