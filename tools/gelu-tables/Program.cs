// Produces the GELU forward table of src/ModelGen/Kernels/VectorMath.cs (CdfTable, read by NormalCdfPiecewise): Q(u) = Φ(−u) =
// ½·erfc(u/√2) on [0, 6) in 16 equal intervals, a degree-5 polynomial per interval in t = v − (k + ½), v = u·16/6, by Chebyshev
// interpolation in double (erf/erfc in double as tests/ModelGen.Tests/Kernels/KernelTestUtil.cs). Prints the C# table on stdout and
// the max errors of the float evaluation (FMA Horner, exactly as the kernels) over x ∈ [−9, 9], step 1e-5, on stderr.
// Run: dotnet run -c Release --project tools/gelu-tables
const double U = 6;
var t16 = Fit(16, 5);
Console.WriteLine("    /// <summary>Coefficient j (constant term first) of interval k at [j·16 + k].</summary>");
Console.WriteLine("    private static ReadOnlySpan<float> CdfTable =>");
Console.WriteLine("    [");
for (int j = 0; j <= 5; j++) Console.WriteLine("        " + string.Join(", ", Enumerable.Range(0, 16).Select(k => Lit(t16[j, k]))) + ",");
Console.WriteLine("    ];");

static string Lit(float f) => f.ToString("R", System.Globalization.CultureInfo.InvariantCulture).Replace("E", "e") + "f";

static float[,] Fit(int N, int D)
{
var coef = new float[D + 1, N];
for (int k = 0; k < N; k++)
{
    int m = D + 1;
    var A = new double[m, m]; var b = new double[m];
    for (int i = 0; i < m; i++)
    {
        double t = 0.5 * Math.Cos(Math.PI * (i + 0.5) / m);
        double u = (k + 0.5 + t) * U / N;
        for (int j = 0; j < m; j++) A[i, j] = Math.Pow(t, j);
        b[i] = Q(u);
    }
    var c = Solve(A, b);
    for (int j = 0; j <= D; j++) coef[j, k] = (float)c[j];
}
// float evaluation, exactly as the kernel: v = u·(N/U) in float, k = trunc, t = v − (k + ½), Horner with FMA
float scale = (float)(N / U);
double maxPhi = 0, maxGelu = 0, maxErfAbs = 0, atPhi = 0;
for (double x = -9; x <= 9; x += 1e-5)
{
    float xf = (float)x;
    float u = MathF.Abs(xf), v = u * scale;
    int k = (int)v;
    float q;
    if (k >= N) q = 0f;
    else
    {
        float t = v - (k + 0.5f);
        q = coef[D, k];
        for (int j = D - 1; j >= 0; j--) q = MathF.FusedMultiplyAdd(q, t, coef[j, k]);
    }
    float phi = xf < 0 ? q : 1f - q;
    double refPhi = Phi(xf);
    double e = Math.Abs(phi - refPhi);
    if (e > maxPhi) { maxPhi = e; atPhi = xf; }
    maxGelu = Math.Max(maxGelu, Math.Abs(xf * phi - xf * refPhi));
}
Console.Error.WriteLine($"N={N} D={D} U={U}: max |Φ err| {maxPhi:E2} at {atPhi} (erf-equivalent {2 * maxPhi:E2}), max |gelu err| {maxGelu:E2}");
return coef;
}

static double[] Solve(double[,] A, double[] b)
{
    int n = b.Length;
    for (int p = 0; p < n; p++)
    {
        int best = p;
        for (int r = p + 1; r < n; r++) if (Math.Abs(A[r, p]) > Math.Abs(A[best, p])) best = r;
        for (int c = 0; c < n; c++) (A[p, c], A[best, c]) = (A[best, c], A[p, c]);
        (b[p], b[best]) = (b[best], b[p]);
        for (int r = p + 1; r < n; r++)
        {
            double f = A[r, p] / A[p, p];
            for (int c = p; c < n; c++) A[r, c] -= f * A[p, c];
            b[r] -= f * b[p];
        }
    }
    var x = new double[n];
    for (int r = n - 1; r >= 0; r--)
    {
        double s = b[r];
        for (int c = r + 1; c < n; c++) s -= A[r, c] * x[c];
        x[r] = s / A[r, r];
    }
    return x;
}
static double Q(double u) => Phi(-u);
static double Erf(double x)
{
    double ax = Math.Abs(x);
    if (ax < 2.5)
    {
        double term = ax, sum = ax;
        for (int n = 1; n < 100; n++) { term *= -ax * ax / n; sum += term / (2 * n + 1); }
        return Math.Sign(x) * 2 / Math.Sqrt(Math.PI) * sum;
    }
    return Math.Sign(x) * (1 - ErfcLarge(ax));
}
static double ErfcLarge(double x)
{
    double f = 0;
    for (int n = 80; n >= 1; n--) f = n / 2.0 / (x + f);
    return Math.Exp(-x * x) / Math.Sqrt(Math.PI) / (x + f);
}
static double Phi(double x)
{
    double z = x / Math.Sqrt(2);
    if (z < -2.5) return 0.5 * ErfcLarge(-z);
    return 0.5 * (1 + Erf(z));
}
