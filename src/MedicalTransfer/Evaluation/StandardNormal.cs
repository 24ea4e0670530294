using System;

namespace MedicalTransfer.Evaluation
{
    /// <summary>
    /// The standard normal distribution and the complementary error function, to double precision
    /// (checked against SciPy in the tests). .NET has no erf; a p-value of a DeLong or McNemar test
    /// needs its tail accurately, so the tail is computed directly, never as 1 - CDF.
    /// </summary>
    internal static class StandardNormal
    {
        private const double TwoOverSqrtPi = 1.1283791670955126;
        private const double OneOverSqrtPi = 0.56418958354775628;

        /// <summary>P(Z &lt;= x).</summary>
        public static double Cdf(double x) => 0.5 * Erfc(-x / Math.Sqrt(2));

        /// <summary>P(Z &gt; x), accurate far into the tail.</summary>
        public static double UpperTail(double x) => 0.5 * Erfc(x / Math.Sqrt(2));

        /// <summary>Two-sided p-value of a z statistic: P(|Z| &gt;= |z|).</summary>
        public static double TwoSidedP(double z) => double.IsNaN(z) ? double.NaN : Math.Min(1.0, Erfc(Math.Abs(z) / Math.Sqrt(2)));

        /// <summary>The x with P(Z &lt;= x) = p (Acklam's rational approximation refined by one Halley step).</summary>
        public static double Quantile(double p)
        {
            if (double.IsNaN(p) || p < 0 || p > 1)
            {
                return double.NaN;
            }

            if (p == 0)
            {
                return double.NegativeInfinity;
            }

            if (p == 1)
            {
                return double.PositiveInfinity;
            }

            const double Low = 0.02425;
            double x;
            if (p < Low)
            {
                double q = Math.Sqrt(-2 * Math.Log(p));
                x = (((((-7.784894002430293e-03 * q - 3.223964580411365e-01) * q - 2.400758277161838e+00) * q - 2.549732539343734e+00) * q + 4.374664141464968e+00) * q + 2.938163982698783e+00)
                    / ((((7.784695709041462e-03 * q + 3.224671290700398e-01) * q + 2.445134137142996e+00) * q + 3.754408661907416e+00) * q + 1);
            }
            else if (p <= 1 - Low)
            {
                double q = p - 0.5;
                double r = q * q;
                x = (((((-3.969683028665376e+01 * r + 2.209460984245205e+02) * r - 2.759285104469687e+02) * r + 1.383577518672690e+02) * r - 3.066479806614716e+01) * r + 2.506628277459239e+00) * q
                    / (((((-5.447609879822406e+01 * r + 1.615858368580409e+02) * r - 1.556989798598866e+02) * r + 6.680131188771972e+01) * r - 1.328068155288572e+01) * r + 1);
            }
            else
            {
                double q = Math.Sqrt(-2 * Math.Log(1 - p));
                x = -(((((-7.784894002430293e-03 * q - 3.223964580411365e-01) * q - 2.400758277161838e+00) * q - 2.549732539343734e+00) * q + 4.374664141464968e+00) * q + 2.938163982698783e+00)
                    / ((((7.784695709041462e-03 * q + 3.224671290700398e-01) * q + 2.445134137142996e+00) * q + 3.754408661907416e+00) * q + 1);
            }

            // One Halley step on the accurate CDF (tail-side for p > 0.5 to keep precision).
            for (int i = 0; i < 2; i++)
            {
                double e = p <= 0.5 ? Cdf(x) - p : (1 - p) - UpperTail(x);
                double u = e * Math.Sqrt(2 * Math.PI) * Math.Exp(x * x / 2);
                x -= u / (1 + (x * u / 2));
            }

            return x;
        }

        /// <summary>The complementary error function erfc(x) = 1 - erf(x).</summary>
        public static double Erfc(double x)
        {
            if (double.IsNaN(x))
            {
                return double.NaN;
            }

            if (x < 0)
            {
                return 2 - Erfc(-x);
            }

            if (x < 0.5)
            {
                return 1 - ErfSeries(x);
            }

            if (x < 2.5)
            {
                // erf(x) = 2/sqrt(pi) exp(-x^2) sum 2^n x^(2n+1) / (1*3*...*(2n+1)): positive terms, no cancellation.
                double term = x, sum = x, x2 = 2 * x * x;
                for (int n = 1; n < 200; n++)
                {
                    term *= x2 / ((2 * n) + 1);
                    sum += term;
                    if (term < sum * 1e-17)
                    {
                        break;
                    }
                }

                return 1 - (TwoOverSqrtPi * Math.Exp(-x * x) * sum);
            }

            if (x > 27)
            {
                return 0;
            }

            // Continued fraction erfc(x) = exp(-x^2)/sqrt(pi) / (x + (1/2)/(x + 1/(x + (3/2)/(x + ...)))), by modified Lentz.
            const double Tiny = 1e-300;
            double f = x, c = x, d = 0;
            for (int n = 1; n < 500; n++)
            {
                double a = n / 2.0;
                d = x + (a * d);
                d = Math.Abs(d) < Tiny ? Tiny : d;
                c = x + (a / c);
                c = Math.Abs(c) < Tiny ? Tiny : c;
                d = 1 / d;
                double delta = c * d;
                f *= delta;
                if (Math.Abs(delta - 1) < 1e-16)
                {
                    break;
                }
            }

            return OneOverSqrtPi * Math.Exp(-x * x) / f;
        }

        /// <summary>erf by its Maclaurin series (for |x| &lt; 0.5, where it converges in a few terms).</summary>
        private static double ErfSeries(double x)
        {
            double x2 = x * x, term = x, sum = x;
            for (int n = 1; n < 60; n++)
            {
                term *= -x2 / n;
                double add = term / ((2 * n) + 1);
                sum += add;
                if (Math.Abs(add) < Math.Abs(sum) * 1e-17)
                {
                    break;
                }
            }

            return TwoOverSqrtPi * sum;
        }
    }
}
