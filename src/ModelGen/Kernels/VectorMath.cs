// Vectorised transcendental helpers the activations share: sigmoid, tanh and the normal CDF (for exact GELU).
// Each function exists once per width (scalar, 128, 256, 512) with the same algorithm, because the BCL's
// generic vector interface (ISimdVector) is not public. Algorithms are chosen to stay finite for every finite
// input and to avoid cancellation (1 + tanh, 1 + erf) in the tails; measured errors are in the callers' remarks.
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.Arm;
using System.Runtime.Intrinsics.X86;

namespace ModelGen.Kernels;

/// <summary>Shared vector math for activation operators (sigmoid, tanh, normal CDF).</summary>
internal static class VectorMath
{
    // tanh: below this |x| a rational approximation (no cancellation near 0); above it 1 - 2/(e^{2|x|}+1),
    // which is accurate to ~1 ulp once tanh(|x|) ≥ 0.55.
    private const float TanhSwitch = 0.625f;

    // Odd/even minimax coefficients of tanh(x) ≈ x·P(x²)/Q(x²) (Eigen's fast tanh); relative error ≤ 3e-7 on |x| < 0.625.
    private const float TA1 = 4.89352455891786e-03f, TA3 = 6.37261928875436e-04f, TA5 = 1.48572235717979e-05f,
        TA7 = 5.12229709037114e-08f, TA9 = -8.60467152213735e-11f, TA11 = 2.00018790482477e-13f, TA13 = -2.76076847742355e-16f;
    private const float TB0 = 4.89352518554385e-03f, TB2 = 2.26843463243900e-03f, TB4 = 1.18534705686654e-04f, TB6 = 1.19825839466702e-06f;

    // Abramowitz & Stegun 7.1.26: erfc(a) ≈ t·(c1 + t·(c2 + t·(c3 + t·(c4 + t·c5))))·e^{-a²}, t = 1/(1 + p·a), a ≥ 0,
    // absolute error ≤ 1.5e-7. Evaluating Φ through erfc(|x|/√2) keeps the negative tail free of the 1 + erf cancellation.
    private const float ErfP = 0.3275911f, E1 = 0.254829592f, E2 = -0.284496736f, E3 = 1.421413741f, E4 = -1.453152027f, E5 = 1.061405429f;
    internal const float InvSqrt2 = 0.70710678118654752f;
    /// <summary>1/√(2π), the standard normal density at 0.</summary>
    internal const float InvSqrt2Pi = 0.39894228040143268f;

    // ---------------------------------------------------------------- sigmoid: 1 / (1 + e^{-x})
    // For x → -∞, e^{-x} overflows to +∞ and the quotient is +0, never NaN.

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static float Sigmoid(float x) => 1f / (1f + MathF.Exp(-x));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector128<float> Sigmoid(Vector128<float> x) => Vector128<float>.One / (Vector128<float>.One + Vector128.Exp(-x));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector256<float> Sigmoid(Vector256<float> x) => Vector256<float>.One / (Vector256<float>.One + Vector256.Exp(-x));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector512<float> Sigmoid(Vector512<float> x) => Vector512<float>.One / (Vector512<float>.One + Vector512.Exp(-x));

    // ---------------------------------------------------------------- tanh

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static float Tanh(float x)
    {
        float a = MathF.Abs(x);
        if (a < TanhSwitch)
        {
            float x2 = x * x;
            float p = float.MultiplyAddEstimate(x2, TA13, TA11);
            p = float.MultiplyAddEstimate(x2, p, TA9);
            p = float.MultiplyAddEstimate(x2, p, TA7);
            p = float.MultiplyAddEstimate(x2, p, TA5);
            p = float.MultiplyAddEstimate(x2, p, TA3);
            p = float.MultiplyAddEstimate(x2, p, TA1);
            float q = float.MultiplyAddEstimate(x2, TB6, TB4);
            q = float.MultiplyAddEstimate(x2, q, TB2);
            q = float.MultiplyAddEstimate(x2, q, TB0);
            return x * p / q;
        }
        return MathF.CopySign(1f - 2f / (MathF.Exp(2f * a) + 1f), x);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector128<float> Tanh(Vector128<float> x)
    {
        Vector128<float> a = Vector128.Abs(x);
        Vector128<float> x2 = x * x;
        Vector128<float> p = Vector128.MultiplyAddEstimate(x2, Vector128.Create(TA13), Vector128.Create(TA11));
        p = Vector128.MultiplyAddEstimate(x2, p, Vector128.Create(TA9));
        p = Vector128.MultiplyAddEstimate(x2, p, Vector128.Create(TA7));
        p = Vector128.MultiplyAddEstimate(x2, p, Vector128.Create(TA5));
        p = Vector128.MultiplyAddEstimate(x2, p, Vector128.Create(TA3));
        p = Vector128.MultiplyAddEstimate(x2, p, Vector128.Create(TA1));
        Vector128<float> q = Vector128.MultiplyAddEstimate(x2, Vector128.Create(TB6), Vector128.Create(TB4));
        q = Vector128.MultiplyAddEstimate(x2, q, Vector128.Create(TB2));
        q = Vector128.MultiplyAddEstimate(x2, q, Vector128.Create(TB0));
        Vector128<float> small = x * p / q; // NaN for huge |x| (∞/∞), but such lanes take the other branch
        Vector128<float> big = Vector128<float>.One - Vector128.Create(2f) / (Vector128.Exp(a + a) + Vector128<float>.One);
        return Vector128.ConditionalSelect(Vector128.LessThan(a, Vector128.Create(TanhSwitch)), small, Vector128.CopySign(big, x));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector256<float> Tanh(Vector256<float> x)
    {
        Vector256<float> a = Vector256.Abs(x);
        Vector256<float> x2 = x * x;
        Vector256<float> p = Vector256.MultiplyAddEstimate(x2, Vector256.Create(TA13), Vector256.Create(TA11));
        p = Vector256.MultiplyAddEstimate(x2, p, Vector256.Create(TA9));
        p = Vector256.MultiplyAddEstimate(x2, p, Vector256.Create(TA7));
        p = Vector256.MultiplyAddEstimate(x2, p, Vector256.Create(TA5));
        p = Vector256.MultiplyAddEstimate(x2, p, Vector256.Create(TA3));
        p = Vector256.MultiplyAddEstimate(x2, p, Vector256.Create(TA1));
        Vector256<float> q = Vector256.MultiplyAddEstimate(x2, Vector256.Create(TB6), Vector256.Create(TB4));
        q = Vector256.MultiplyAddEstimate(x2, q, Vector256.Create(TB2));
        q = Vector256.MultiplyAddEstimate(x2, q, Vector256.Create(TB0));
        Vector256<float> small = x * p / q;
        Vector256<float> big = Vector256<float>.One - Vector256.Create(2f) / (Vector256.Exp(a + a) + Vector256<float>.One);
        return Vector256.ConditionalSelect(Vector256.LessThan(a, Vector256.Create(TanhSwitch)), small, Vector256.CopySign(big, x));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector512<float> Tanh(Vector512<float> x)
    {
        Vector512<float> a = Vector512.Abs(x);
        Vector512<float> x2 = x * x;
        Vector512<float> p = Vector512.MultiplyAddEstimate(x2, Vector512.Create(TA13), Vector512.Create(TA11));
        p = Vector512.MultiplyAddEstimate(x2, p, Vector512.Create(TA9));
        p = Vector512.MultiplyAddEstimate(x2, p, Vector512.Create(TA7));
        p = Vector512.MultiplyAddEstimate(x2, p, Vector512.Create(TA5));
        p = Vector512.MultiplyAddEstimate(x2, p, Vector512.Create(TA3));
        p = Vector512.MultiplyAddEstimate(x2, p, Vector512.Create(TA1));
        Vector512<float> q = Vector512.MultiplyAddEstimate(x2, Vector512.Create(TB6), Vector512.Create(TB4));
        q = Vector512.MultiplyAddEstimate(x2, q, Vector512.Create(TB2));
        q = Vector512.MultiplyAddEstimate(x2, q, Vector512.Create(TB0));
        Vector512<float> small = x * p / q;
        Vector512<float> big = Vector512<float>.One - Vector512.Create(2f) / (Vector512.Exp(a + a) + Vector512<float>.One);
        return Vector512.ConditionalSelect(Vector512.LessThan(a, Vector512.Create(TanhSwitch)), small, Vector512.CopySign(big, x));
    }

    // ---------------------------------------------------------------- e^x for x ≤ 0 (softmax numerators)
    // Cephes expf: x = n·ln2 + r with n = round(x·log2 e) and ln2 split in two (r exact to ~1 ulp), e^r by a degree-6
    // polynomial on |r| ≤ ln2/2 (relative error ≤ 1.2e-7), then the exponent bits of 2^n added directly: a dozen
    // instructions against the BCL's widening Exp. n comes from adding 1.5·2^23 (the rounded integer lands in the low mantissa
    // bits, which an integer add and shift turn into 2^n's exponent field), not from Round and a saturating float→int conversion:
    // attention alone at W5's shape 0.973 / 0.978 in a paired A/B. x is clamped at −88, where n + 127 = 0 and the result is 0, so
    // −∞ gives exactly 0 and the result is never subnormal; NaN propagates through the polynomial. Only for x ≤ ~88 (callers pass x ≤ 0).
    internal const float ExpShifter = 12582912f;   // 1.5·2^23: adding it rounds to an integer kept in the low mantissa bits
    internal const float ExpLog2E = 1.44269504088896341f, ExpC1 = 0.693359375f, ExpC2 = -2.12194440e-4f, ExpMin = -88f;
    internal const float EP0 = 1.9875691500e-4f, EP1 = 1.3981999507e-3f, EP2 = 8.3334519073e-3f, EP3 = 4.1665795894e-2f,
        EP4 = 1.6666665459e-1f, EP5 = 5.0000001201e-1f;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static float ExpNonPositive(float x) => MathF.Exp(x);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector128<float> ExpNonPositive(Vector128<float> x)
    {
        x = Vector128.Max(x, Vector128.Create(ExpMin));
        Vector128<float> shifted = Vector128.MultiplyAddEstimate(x, Vector128.Create(ExpLog2E), Vector128.Create(ExpShifter));   // round(x·log2 e) in the low mantissa bits
        Vector128<float> n = shifted - Vector128.Create(ExpShifter);
        Vector128<float> r = Vector128.MultiplyAddEstimate(n, Vector128.Create(-ExpC1), x);
        r = Vector128.MultiplyAddEstimate(n, Vector128.Create(-ExpC2), r);
        Vector128<float> p = Vector128.MultiplyAddEstimate(Vector128.Create(EP0), r, Vector128.Create(EP1));
        p = Vector128.MultiplyAddEstimate(p, r, Vector128.Create(EP2));
        p = Vector128.MultiplyAddEstimate(p, r, Vector128.Create(EP3));
        p = Vector128.MultiplyAddEstimate(p, r, Vector128.Create(EP4));
        p = Vector128.MultiplyAddEstimate(p, r, Vector128.Create(EP5));
        p = Vector128.MultiplyAddEstimate(p, r * r, r) + Vector128<float>.One;
        // The shifter's bits are 0x4B400000 + n; adding the bias 127 and shifting by 23 pushes the shifter's own bits out, leaving
        // the exponent field n + 127 ∈ [0, 127] (0 for x = −88: the result is 0, never subnormal).
        Vector128<int> bits = Vector128.ShiftLeft(shifted.AsInt32() + Vector128.Create(127), 23);
        return p * bits.AsSingle();
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector256<float> ExpNonPositive(Vector256<float> x)
    {
        x = Vector256.Max(x, Vector256.Create(ExpMin));
        Vector256<float> shifted = Vector256.MultiplyAddEstimate(x, Vector256.Create(ExpLog2E), Vector256.Create(ExpShifter));   // round(x·log2 e) in the low mantissa bits
        Vector256<float> n = shifted - Vector256.Create(ExpShifter);
        Vector256<float> r = Vector256.MultiplyAddEstimate(n, Vector256.Create(-ExpC1), x);
        r = Vector256.MultiplyAddEstimate(n, Vector256.Create(-ExpC2), r);
        Vector256<float> p = Vector256.MultiplyAddEstimate(Vector256.Create(EP0), r, Vector256.Create(EP1));
        p = Vector256.MultiplyAddEstimate(p, r, Vector256.Create(EP2));
        p = Vector256.MultiplyAddEstimate(p, r, Vector256.Create(EP3));
        p = Vector256.MultiplyAddEstimate(p, r, Vector256.Create(EP4));
        p = Vector256.MultiplyAddEstimate(p, r, Vector256.Create(EP5));
        p = Vector256.MultiplyAddEstimate(p, r * r, r) + Vector256<float>.One;
        // The shifter's bits are 0x4B400000 + n; adding the bias 127 and shifting by 23 pushes the shifter's own bits out, leaving
        // the exponent field n + 127 ∈ [0, 127] (0 for x = −88: the result is 0, never subnormal).
        Vector256<int> bits = Vector256.ShiftLeft(shifted.AsInt32() + Vector256.Create(127), 23);
        return p * bits.AsSingle();
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector512<float> ExpNonPositive(Vector512<float> x)
    {
        x = Vector512.Max(x, Vector512.Create(ExpMin));
        Vector512<float> shifted = Vector512.MultiplyAddEstimate(x, Vector512.Create(ExpLog2E), Vector512.Create(ExpShifter));   // round(x·log2 e) in the low mantissa bits
        Vector512<float> n = shifted - Vector512.Create(ExpShifter);
        Vector512<float> r = Vector512.MultiplyAddEstimate(n, Vector512.Create(-ExpC1), x);
        r = Vector512.MultiplyAddEstimate(n, Vector512.Create(-ExpC2), r);
        Vector512<float> p = Vector512.MultiplyAddEstimate(Vector512.Create(EP0), r, Vector512.Create(EP1));
        p = Vector512.MultiplyAddEstimate(p, r, Vector512.Create(EP2));
        p = Vector512.MultiplyAddEstimate(p, r, Vector512.Create(EP3));
        p = Vector512.MultiplyAddEstimate(p, r, Vector512.Create(EP4));
        p = Vector512.MultiplyAddEstimate(p, r, Vector512.Create(EP5));
        p = Vector512.MultiplyAddEstimate(p, r * r, r) + Vector512<float>.One;
        // The shifter's bits are 0x4B400000 + n; adding the bias 127 and shifting by 23 pushes the shifter's own bits out, leaving
        // the exponent field n + 127 ∈ [0, 127] (0 for x = −88: the result is 0, never subnormal).
        Vector512<int> bits = Vector512.ShiftLeft(shifted.AsInt32() + Vector512.Create(127), 23);
        return p * bits.AsSingle();
    }

    // ---------------------------------------------------------------- standard normal CDF Φ(x) = ½·erfc(−x/√2)
    // Also returns g = e^{−x²/2} (so the GELU derivative gets φ(x) = g/√(2π) without a second exp), through ExpNonPositive at
    // the vector widths (a fifth of the BCL exp's cost; GELU is the costliest epilogue of a Transformer's feed-forward).
    // For |x| → ∞, a² overflows to +∞ and e^{−∞} = 0: Φ is exactly 0 or 1, never NaN.

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static float NormalCdf(float x, out float gauss)
    {
        float a = MathF.Abs(x) * InvSqrt2;
        float t = 1f / float.MultiplyAddEstimate(ErfP, a, 1f);
        float poly = float.MultiplyAddEstimate(t, E5, E4);
        poly = float.MultiplyAddEstimate(t, poly, E3);
        poly = float.MultiplyAddEstimate(t, poly, E2);
        poly = float.MultiplyAddEstimate(t, poly, E1);
        gauss = MathF.Exp(-(a * a));
        float tail = 0.5f * t * poly * gauss; // Φ(−|x|)
        return x < 0f ? tail : 1f - tail;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector128<float> NormalCdf(Vector128<float> x, out Vector128<float> gauss)
    {
        Vector128<float> a = Vector128.Abs(x) * Vector128.Create(InvSqrt2);
        Vector128<float> t = Vector128<float>.One / Vector128.MultiplyAddEstimate(Vector128.Create(ErfP), a, Vector128<float>.One);
        Vector128<float> poly = Vector128.MultiplyAddEstimate(t, Vector128.Create(E5), Vector128.Create(E4));
        poly = Vector128.MultiplyAddEstimate(t, poly, Vector128.Create(E3));
        poly = Vector128.MultiplyAddEstimate(t, poly, Vector128.Create(E2));
        poly = Vector128.MultiplyAddEstimate(t, poly, Vector128.Create(E1));
        gauss = ExpNonPositive(-(a * a));
        Vector128<float> tail = Vector128.Create(0.5f) * t * poly * gauss;
        return Vector128.ConditionalSelect(Vector128.LessThan(x, Vector128<float>.Zero), tail, Vector128<float>.One - tail);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector256<float> NormalCdf(Vector256<float> x, out Vector256<float> gauss)
    {
        Vector256<float> a = Vector256.Abs(x) * Vector256.Create(InvSqrt2);
        Vector256<float> t = Vector256<float>.One / Vector256.MultiplyAddEstimate(Vector256.Create(ErfP), a, Vector256<float>.One);
        Vector256<float> poly = Vector256.MultiplyAddEstimate(t, Vector256.Create(E5), Vector256.Create(E4));
        poly = Vector256.MultiplyAddEstimate(t, poly, Vector256.Create(E3));
        poly = Vector256.MultiplyAddEstimate(t, poly, Vector256.Create(E2));
        poly = Vector256.MultiplyAddEstimate(t, poly, Vector256.Create(E1));
        gauss = ExpNonPositive(-(a * a));
        Vector256<float> tail = Vector256.Create(0.5f) * t * poly * gauss;
        return Vector256.ConditionalSelect(Vector256.LessThan(x, Vector256<float>.Zero), tail, Vector256<float>.One - tail);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector512<float> NormalCdf(Vector512<float> x, out Vector512<float> gauss)
    {
        Vector512<float> a = Vector512.Abs(x) * Vector512.Create(InvSqrt2);
        Vector512<float> t = Vector512<float>.One / Vector512.MultiplyAddEstimate(Vector512.Create(ErfP), a, Vector512<float>.One);
        Vector512<float> poly = Vector512.MultiplyAddEstimate(t, Vector512.Create(E5), Vector512.Create(E4));
        poly = Vector512.MultiplyAddEstimate(t, poly, Vector512.Create(E3));
        poly = Vector512.MultiplyAddEstimate(t, poly, Vector512.Create(E2));
        poly = Vector512.MultiplyAddEstimate(t, poly, Vector512.Create(E1));
        gauss = ExpNonPositive(-(a * a));
        Vector512<float> tail = Vector512.Create(0.5f) * t * poly * gauss;
        return Vector512.ConditionalSelect(Vector512.LessThan(x, Vector512<float>.Zero), tail, Vector512<float>.One - tail);
    }

    // ---------------------------------------------------------------- Φ(x) without exp or division (GELU's forward)
    // Q(u) = Φ(−u) = ½·erfc(u/√2) on u = |x| < 6 split into 16 equal intervals; on interval k, with v = u·16/6 and
    // t = v − (k + ½) ∈ [−½, ½), Q is a degree-5 polynomial in t (Chebyshev interpolation in double, tools/gelu-tables). The 16
    // coefficients of one power fill one 512-bit register, so each lane picks its own with one permute (ShuffleNative), and Φ costs
    // six FMA/permute pairs instead of a division, an exp and the A&S polynomial. Q(u ≥ 6) < 1e-9 is taken as 0, so gelu(x) = x·Φ(x)
    // is exactly 0 in the far negative tail. Φ(x) = Q for x < 0 (no 1 − erf cancellation), 1 − Q otherwise. Every width evaluates
    // the same tables with the same operations (256 bits: two 8-lane permutes and a blend per power; 128 bits and scalar: loads),
    // so results are bit-identical across widths wherever FMA is (the dense routes' bit-for-bit tests rely on it). Measured against
    // float64 over x ∈ [−9, 9] step 1e-5: max |Φ error| 6.3e-8 (the rounding of Φ itself; the A&S NormalCdf above: 1.7e-7).
    private const float CdfIntervals = 16f, CdfScale = 16f / 6f;

    /// <summary>Coefficient j (constant term first) of interval k at [j·16 + k].</summary>
    private static ReadOnlySpan<float> CdfTable =>
    [
        0.42563432f, 0.2868877f, 0.17425072f, 0.09467574f, 0.045753624f, 0.019580077f, 0.0073946062f, 0.0024579011f, 0.00071754254f, 0.00018367018f, 4.1167594e-05f, 8.070996e-06f, 1.3828303e-06f, 2.0690139e-07f, 2.7017613e-08f, 3.0775027e-09f,
        -0.14699659f, -0.12771285f, -0.09640271f, -0.063222446f, -0.03602306f, -0.01783271f, -0.0076697525f, -0.0028659771f, -0.00093044655f, -0.00026244452f, -6.431481e-05f, -1.3693417e-05f, -2.533029e-06f, -4.0709523e-07f, -5.6843323e-08f, -6.895894e-09f,
        0.0051677036f, 0.0134694055f, 0.016945561f, 0.015558626f, 0.01139804f, 0.006896368f, 0.0035053785f, 0.0015113598f, 0.0005560695f, 0.00017528812f, 4.747319e-05f, 1.1068646e-05f, 2.2250865e-06f, 3.8610764e-07f, 5.7885828e-08f, 7.503281e-09f,
        0.0033240728f, 0.002046175f, 0.00027362924f, -0.0010707865f, -0.0015599484f, -0.0013599898f, -0.0008882763f, -0.00046417015f, -0.0001997597f, -7.191342e-05f, -2.1861868e-05f, -5.6472295e-06f, -1.2448862e-06f, -2.3492652e-07f, -3.804223e-08f, -5.295674e-09f,
        -0.00017800117f, -0.00042030305f, -0.0004187834f, -0.00023265374f, -2.1600941e-05f, 9.999724e-05f, 0.00012016816f, 8.691501e-05f, 4.6849404e-05f, 2.0086794e-05f, 7.0558776e-06f, 2.0639247e-06f, 5.078236e-07f, 1.0581177e-07f, 1.8759739e-08f, 2.839995e-09f,
        -6.718583e-05f, -2.523189e-05f, 2.3574476e-05f, 4.5211644e-05f, 3.5371788e-05f, 1.3077864e-05f, -3.2451662e-06f, -8.492269e-06f, -6.92987e-06f, -3.8125684e-06f, -1.6041758e-06f, -5.413238e-07f, -1.5003705e-07f, -3.4638585e-08f, -6.721712e-09f, -1.103274e-09f,
    ];

    // Q is evaluated from n = −|x| (an OR of the sign bit; v = n·(−16/6) is u·16/6 exactly), so GELU is relu(x) + n·Q in one FMA
    // (x·(1 − Q) for x ≥ 0, x·Q below, the latter bit for bit): two operations fewer per vector than Φ's select, 1 − Q and x·Φ.

    /// <summary>Φ(x) (standard normal CDF) by the piecewise polynomial above; |error| ≤ 6.3e-8.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static float NormalCdfPiecewise(float x)
    {
        float q = NormalTailPiecewise(-MathF.Abs(x));
        return x < 0f ? q : 1f - q;
    }

    /// <summary>GELU x·Φ(x) = relu(x) − |x|·Q(|x|) by the piecewise polynomial above (one FMA after Q).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static float GeluPiecewise(float x)
    {
        float n = -MathF.Abs(x);
        return float.MultiplyAddEstimate(n, NormalTailPiecewise(n), x > 0f ? x : 0f);   // NaN: n is NaN, so is the result
    }

    /// <summary>Q(−n) = Φ(n) for n = −|x| ≤ 0 (0 for n ≤ −6, and for NaN, which the callers propagate through n).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float NormalTailPiecewise(float n)
    {
        float v = n * -CdfScale;
        if (!(v < CdfIntervals)) return 0f;
        int k = (int)v;
        float t = v - (k + 0.5f);
        ref float c = ref MemoryMarshal.GetReference(CdfTable);
        float q = Unsafe.Add(ref c, 80 + k);
        for (int j = 64; j >= 0; j -= 16) q = float.MultiplyAddEstimate(q, t, Unsafe.Add(ref c, j + k));
        return q;
    }

    /// <summary>Φ(x) per lane by the piecewise polynomial above.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector128<float> NormalCdfPiecewise(Vector128<float> x)
    {
        Vector128<float> q = NormalTailPiecewise(x | Vector128.Create(-0f));
        return Vector128.ConditionalSelect(Vector128.LessThan(x, Vector128<float>.Zero), q, Vector128<float>.One - q);
    }

    /// <summary>GELU per lane, relu(x) − |x|·Q(|x|).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector128<float> GeluPiecewise(Vector128<float> x)
    {
        Vector128<float> n = x | Vector128.Create(-0f);
        return Vector128.MultiplyAddEstimate(n, NormalTailPiecewise(n), Vector128.MaxNative(x, Vector128<float>.Zero));
    }

    /// <summary>Q per lane for n = −|x| (gathers from the table: a 4-lane permute cannot index 16 entries).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<float> NormalTailPiecewise(Vector128<float> n)
    {
        Vector128<float> v = n * Vector128.Create(-CdfScale);
        Vector128<int> k = Vector128.Min(Vector128.ConvertToInt32Native(v), Vector128.Create(15));   // v ≥ 16 (or NaN): any interval, replaced below
        k = Vector128.Max(k, Vector128<int>.Zero);
        Vector128<float> t = v - (Vector128.ConvertToSingle(k) + Vector128.Create(0.5f));
        ref float c = ref MemoryMarshal.GetReference(CdfTable);
        int k0 = k.GetElement(0), k1 = k.GetElement(1), k2 = k.GetElement(2), k3 = k.GetElement(3);
        Vector128<float> q = Vector128.Create(Unsafe.Add(ref c, 80 + k0), Unsafe.Add(ref c, 80 + k1), Unsafe.Add(ref c, 80 + k2), Unsafe.Add(ref c, 80 + k3));
        for (int j = 64; j >= 0; j -= 16)
            q = Vector128.MultiplyAddEstimate(q, t, Vector128.Create(Unsafe.Add(ref c, j + k0), Unsafe.Add(ref c, j + k1), Unsafe.Add(ref c, j + k2), Unsafe.Add(ref c, j + k3)));
        return Vector128.AndNot(q, Vector128.GreaterThanOrEqual(v, Vector128.Create(CdfIntervals)));
    }

    /// <summary>Φ(x) per lane by the piecewise polynomial above.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector256<float> NormalCdfPiecewise(Vector256<float> x)
    {
        Vector256<float> q = NormalTailPiecewise(x | Vector256.Create(-0f));
        return Vector256.ConditionalSelect(Vector256.LessThan(x, Vector256<float>.Zero), q, Vector256<float>.One - q);
    }

    /// <summary>GELU per lane, relu(x) − |x|·Q(|x|).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector256<float> GeluPiecewise(Vector256<float> x)
    {
        Vector256<float> n = x | Vector256.Create(-0f);
        return Vector256.MultiplyAddEstimate(n, NormalTailPiecewise(n), Vector256.MaxNative(x, Vector256<float>.Zero));
    }

    /// <summary>Q per lane for n = −|x| (per power: an 8-lane permute of each half of the 16 coefficients, then a blend).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> NormalTailPiecewise(Vector256<float> n)
    {
        Vector256<float> v = n * Vector256.Create(-CdfScale);
        Vector256<int> k = Vector256.ConvertToInt32Native(v);   // lanes with v ≥ 16 (or NaN) permute garbage and are replaced below
        Vector256<float> high = Vector256.GreaterThanOrEqual(v, Vector256.Create(8f));   // intervals 8..15 come from the upper half
        Vector256<float> t = v - (Vector256.ConvertToSingle(k) + Vector256.Create(0.5f));
        Vector256<int> lane = k & Vector256.Create(7);   // the index within a half (ShuffleNative leaves indices ≥ 8 unspecified)
        ref float c = ref MemoryMarshal.GetReference(CdfTable);
        Vector256<float> q = Pick(ref c, 80, lane, high);
        for (int j = 64; j >= 0; j -= 16) q = Vector256.MultiplyAddEstimate(q, t, Pick(ref c, j, lane, high));
        return Vector256.AndNot(q, Vector256.GreaterThanOrEqual(v, Vector256.Create(CdfIntervals)));

        static Vector256<float> Pick(ref float c, int j, Vector256<int> k, Vector256<float> high)
            => Vector256.ConditionalSelect(high, Vector256.ShuffleNative(Vector256.LoadUnsafe(ref c, (nuint)(j + 8)), k),
                Vector256.ShuffleNative(Vector256.LoadUnsafe(ref c, (nuint)j), k));
    }

    /// <summary>Φ(x) per lane by the piecewise polynomial above.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector512<float> NormalCdfPiecewise(Vector512<float> x)
    {
        Vector512<float> q = NormalTailPiecewise(x | Vector512.Create(-0f));
        return Vector512.ConditionalSelect(Vector512.LessThan(x, Vector512<float>.Zero), q, Vector512<float>.One - q);
    }

    /// <summary>GELU per lane, relu(x) − |x|·Q(|x|).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector512<float> GeluPiecewise(Vector512<float> x)
    {
        Vector512<float> n = x | Vector512.Create(-0f);
        return Vector512.MultiplyAddEstimate(n, NormalTailPiecewise(n), Vector512.MaxNative(x, Vector512<float>.Zero));
    }

    /// <summary>Q per lane for n = −|x| (one 16-lane permute per power).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> NormalTailPiecewise(Vector512<float> n)
    {
        Vector512<float> v = n * Vector512.Create(-CdfScale);
        Vector512<int> k = Vector512.ConvertToInt32Native(v);   // lanes with v ≥ 16 (or NaN) permute garbage and are replaced below
        Vector512<float> t = v - (Vector512.ConvertToSingle(k) + Vector512.Create(0.5f));
        ref float c = ref MemoryMarshal.GetReference(CdfTable);
        Vector512<float> q = Vector512.ShuffleNative(Vector512.LoadUnsafe(ref c, 80), k);
        for (int j = 64; j >= 0; j -= 16) q = Vector512.MultiplyAddEstimate(q, t, Vector512.ShuffleNative(Vector512.LoadUnsafe(ref c, (nuint)j), k));
        return Vector512.AndNot(q, Vector512.GreaterThanOrEqual(v, Vector512.Create(CdfIntervals)));
    }

    // ---------------------------------------------------------------- fast single-precision exp, σ and tanh
    // For fused kernels whose epilogues are dominated by transcendental functions (the LSTM/GRU cells: five per hidden unit
    // per step), where the multiply-add pipes are the bound, so every multiply counts. x = n·ln2 + r:
    // * n = round(x·log2 e) from the 1.5·2^23 shifter (one FMA; n lands in the low mantissa bits);
    // * r = x − n·ln2 in ONE fused step: ln2 rounded to float is 1.9e-9 off, so r is off by up to |n|·1.9e-9, a relative
    //   error of e^x that grows to 2.4e-7 at |x| = 88, where σ and tanh are saturated and it vanishes from them. Where
    //   multiply-add is not fused, n·ln2 would be rounded to 2^-24 of itself: there r takes Cephes' two steps (ln2 split,
    //   n·ExpC1 exact);
    // * e^r = 1 + r + r²·P(r), P the degree-3 minimax fit of the relative error on |r| ≤ ln2/2 (1.05e-7;
    //   tools/reference/exp-minimax);
    // * 2^n applied by adding n to p's exponent field as an integer (no multiply).
    // Seven multiplies or multiply-adds against Cephes' eleven (a two-step reduction, a degree-7 polynomial, a multiply by 2^n,
    // besides its Round and conversion): W6 batch 16's forward 1.028× (paired processes, CPU time). x is clamped to
    // [−86.5, 88.3] so that p·2^n stays a normal number (p ∈ [0.71, 1.42], n ∈ [−125, 127]): e^x for x < −86.5 returns
    // e^−86.5 ≈ 2.7e-38 (not 0), for x > 88.3 returns e^88.3 ≈ 2.2e38 (not ∞), which leaves σ and tanh exact to float
    // precision at both ends. Against float64 (KernelBench accuracy, every width): σ 9.0e-8 and tanh 1.8e-7 absolute, as with
    // Cephes' form; VectorMathFastTests pins them and exp's relative error (≤ 2e-7 + |n|·2e-9).
    internal const float ExpLo = -86.5f, ExpHi = 88.3f;
    internal const float ExpLn2 = 0.693147182f;   // ln 2 rounded to float: the single-step reduction's constant
    internal const float GP0 = 8.3125248897e-03f, GP1 = 4.1890113151e-02f, GP2 = 1.6667114465e-01f, GP3 = 4.9999231792e-01f;   // P(r) = GP3 + GP2·r + GP1·r² + GP0·r³

    /// <summary>Whether <c>Vector*.MultiplyAddEstimate</c> is one fused operation here (x64 FMA, Arm64): a JIT-time constant.</summary>
    internal static bool FusedMultiplyAdd => Fma.IsSupported || AdvSimd.IsSupported;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector128<float> FastExp(Vector128<float> x)
    {
        x = Vector128.Min(Vector128.Max(x, Vector128.Create(ExpLo)), Vector128.Create(ExpHi));
        Vector128<float> shifted = Vector128.MultiplyAddEstimate(x, Vector128.Create(ExpLog2E), Vector128.Create(ExpShifter));   // round(x·log2 e) in the low mantissa bits
        Vector128<float> n = shifted - Vector128.Create(ExpShifter), r;
        if (FusedMultiplyAdd) r = Vector128.MultiplyAddEstimate(n, Vector128.Create(-ExpLn2), x);
        else r = Vector128.MultiplyAddEstimate(n, Vector128.Create(-ExpC2), Vector128.MultiplyAddEstimate(n, Vector128.Create(-ExpC1), x));
        Vector128<float> p = Vector128.MultiplyAddEstimate(Vector128.Create(GP0), r, Vector128.Create(GP1));
        p = Vector128.MultiplyAddEstimate(p, r, Vector128.Create(GP2));
        p = Vector128.MultiplyAddEstimate(p, r, Vector128.Create(GP3));
        p = Vector128.MultiplyAddEstimate(p, r * r, r + Vector128<float>.One);
        // The shifter's bits are 0x4B400000 + n: shifted left by 23 they are n·2^23 (the shifter's own bits pushed out),
        // which added to p's bits multiplies p by 2^n (p·2^n is normal: see the clamp).
        return (p.AsInt32() + Vector128.ShiftLeft(shifted.AsInt32(), 23)).AsSingle();
    }

    /// <summary>σ(x) = 1/(1 + e^{−x}) through <see cref="FastExp(Vector128{float})"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector128<float> FastSigmoid(Vector128<float> x) => Vector128<float>.One / (Vector128<float>.One + FastExp(-x));

    /// <summary>tanh(x) = 2/(1 + e^{−2x}) − 1 through <see cref="FastExp(Vector128{float})"/>: one exp and one division, absolute error 1.8e-7
    /// (relative accuracy is lost for |x| &lt; 1e-3, where tanh ≈ x; fine where the result is added to O(1) terms, as in a cell update).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector128<float> FastTanh(Vector128<float> x)
        => Vector128.Create(2f) / (Vector128<float>.One + FastExp(Vector128.Create(-2f) * x)) - Vector128<float>.One;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector256<float> FastExp(Vector256<float> x)
    {
        x = Vector256.Min(Vector256.Max(x, Vector256.Create(ExpLo)), Vector256.Create(ExpHi));
        Vector256<float> shifted = Vector256.MultiplyAddEstimate(x, Vector256.Create(ExpLog2E), Vector256.Create(ExpShifter));   // round(x·log2 e) in the low mantissa bits
        Vector256<float> n = shifted - Vector256.Create(ExpShifter), r;
        if (FusedMultiplyAdd) r = Vector256.MultiplyAddEstimate(n, Vector256.Create(-ExpLn2), x);
        else r = Vector256.MultiplyAddEstimate(n, Vector256.Create(-ExpC2), Vector256.MultiplyAddEstimate(n, Vector256.Create(-ExpC1), x));
        Vector256<float> p = Vector256.MultiplyAddEstimate(Vector256.Create(GP0), r, Vector256.Create(GP1));
        p = Vector256.MultiplyAddEstimate(p, r, Vector256.Create(GP2));
        p = Vector256.MultiplyAddEstimate(p, r, Vector256.Create(GP3));
        p = Vector256.MultiplyAddEstimate(p, r * r, r + Vector256<float>.One);
        // The shifter's bits are 0x4B400000 + n: shifted left by 23 they are n·2^23 (the shifter's own bits pushed out),
        // which added to p's bits multiplies p by 2^n (p·2^n is normal: see the clamp).
        return (p.AsInt32() + Vector256.ShiftLeft(shifted.AsInt32(), 23)).AsSingle();
    }

    /// <summary>σ(x) = 1/(1 + e^{−x}) through <see cref="FastExp(Vector256{float})"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector256<float> FastSigmoid(Vector256<float> x) => Vector256<float>.One / (Vector256<float>.One + FastExp(-x));

    /// <summary>tanh(x) = 2/(1 + e^{−2x}) − 1 through <see cref="FastExp(Vector256{float})"/>: one exp and one division, absolute error 1.8e-7
    /// (relative accuracy is lost for |x| &lt; 1e-3, where tanh ≈ x; fine where the result is added to O(1) terms, as in a cell update).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector256<float> FastTanh(Vector256<float> x)
        => Vector256.Create(2f) / (Vector256<float>.One + FastExp(Vector256.Create(-2f) * x)) - Vector256<float>.One;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector512<float> FastExp(Vector512<float> x)
    {
        x = Vector512.Min(Vector512.Max(x, Vector512.Create(ExpLo)), Vector512.Create(ExpHi));
        Vector512<float> shifted = Vector512.MultiplyAddEstimate(x, Vector512.Create(ExpLog2E), Vector512.Create(ExpShifter));   // round(x·log2 e) in the low mantissa bits
        Vector512<float> n = shifted - Vector512.Create(ExpShifter), r;
        if (FusedMultiplyAdd) r = Vector512.MultiplyAddEstimate(n, Vector512.Create(-ExpLn2), x);
        else r = Vector512.MultiplyAddEstimate(n, Vector512.Create(-ExpC2), Vector512.MultiplyAddEstimate(n, Vector512.Create(-ExpC1), x));
        Vector512<float> p = Vector512.MultiplyAddEstimate(Vector512.Create(GP0), r, Vector512.Create(GP1));
        p = Vector512.MultiplyAddEstimate(p, r, Vector512.Create(GP2));
        p = Vector512.MultiplyAddEstimate(p, r, Vector512.Create(GP3));
        p = Vector512.MultiplyAddEstimate(p, r * r, r + Vector512<float>.One);
        // The shifter's bits are 0x4B400000 + n: shifted left by 23 they are n·2^23 (the shifter's own bits pushed out),
        // which added to p's bits multiplies p by 2^n (p·2^n is normal: see the clamp).
        return (p.AsInt32() + Vector512.ShiftLeft(shifted.AsInt32(), 23)).AsSingle();
    }

    /// <summary>σ(x) = 1/(1 + e^{−x}) through <see cref="FastExp(Vector512{float})"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector512<float> FastSigmoid(Vector512<float> x) => Vector512<float>.One / (Vector512<float>.One + FastExp(-x));

    /// <summary>tanh(x) = 2/(1 + e^{−2x}) − 1 through <see cref="FastExp(Vector512{float})"/>: one exp and one division, absolute error 1.8e-7
    /// (relative accuracy is lost for |x| &lt; 1e-3, where tanh ≈ x; fine where the result is added to O(1) terms, as in a cell update).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector512<float> FastTanh(Vector512<float> x)
        => Vector512.Create(2f) / (Vector512<float>.One + FastExp(Vector512.Create(-2f) * x)) - Vector512<float>.One;
}
