using System;
using System.Collections.Generic;
using System.IO;
using System.Net;
using MedicalTransfer.Weights;
using Xunit;

namespace MedicalTransfer.Tests.Weights
{
    /// <summary>Where the cache folder is, when offline mode is on, and which failures are retried.</summary>
    public sealed class CacheTests
    {
        private static PretrainedWeightsOptions WithEnvironment(Dictionary<string, string> env, string? cacheDirectory = null, bool offline = false) => new()
        {
            CacheDirectory = cacheDirectory,
            Offline = offline,
            EnvironmentReader = name => env.TryGetValue(name, out var value) ? value : null,
        };

        private static readonly Dictionary<string, string> AllSet = new()
        {
            ["MEDICALTRANSFER_HOME"] = "/mt/home",
            ["TORCH_HOME"] = "/torch/home",
            ["XDG_CACHE_HOME"] = "/xdg/cache",
            ["HOME"] = "/home/user",
        };

        [Fact]
        public void ResolveDirectory_ExplicitOption_WinsOverEnvironment()
        {
            var (directory, origin) = WeightsCache.ResolveDirectory(WithEnvironment(AllSet, "/explicit/folder"));

            Assert.Equal("/explicit/folder", directory);
            Assert.Equal("PretrainedWeightsOptions.CacheDirectory", origin);
        }

        [Fact]
        public void ResolveDirectory_MedicalTransferHome_IsSecond()
        {
            var (directory, origin) = WeightsCache.ResolveDirectory(WithEnvironment(AllSet));

            Assert.Equal(Path.Combine("/mt/home", "checkpoints"), directory);
            Assert.Equal("$MEDICALTRANSFER_HOME", origin);
        }

        [Fact]
        public void ResolveDirectory_TorchHome_SharesPyTorchsCheckpoints()
        {
            var env = new Dictionary<string, string>(AllSet);
            env.Remove("MEDICALTRANSFER_HOME");

            var (directory, origin) = WeightsCache.ResolveDirectory(WithEnvironment(env));

            Assert.Equal(Path.Combine("/torch/home", "hub", "checkpoints"), directory);
            Assert.Equal("$TORCH_HOME (shared with PyTorch)", origin);
        }

        [LinuxFact("the XDG cache layout is Linux's; macOS and Windows use their own cache folders")]
        public void ResolveDirectory_NothingSet_UsesTheUserCacheFolder()
        {
            var (xdg, origin) = WeightsCache.ResolveDirectory(WithEnvironment(new Dictionary<string, string> { ["XDG_CACHE_HOME"] = "/xdg/cache", ["HOME"] = "/home/user" }));
            var (home, _) = WeightsCache.ResolveDirectory(WithEnvironment(new Dictionary<string, string> { ["HOME"] = "/home/user" }));

            Assert.Equal("/xdg/cache/medicaltransfer/checkpoints", xdg);
            Assert.Equal("/home/user/.cache/medicaltransfer/checkpoints", home);
            Assert.Equal("the user cache folder", origin);
        }

        [Theory]
        [InlineData("1", true)]
        [InlineData("true", true)]
        [InlineData("TRUE", true)]
        [InlineData("0", false)]
        [InlineData("", false)]
        [InlineData(null, false)]
        public void IsOffline_EnvironmentVariable(string? value, bool expected)
        {
            var env = new Dictionary<string, string>();
            if (value is not null)
            {
                env["MEDICALTRANSFER_OFFLINE"] = value;
            }

            Assert.Equal(expected, WeightsCache.IsOffline(WithEnvironment(env)).Offline);
        }

        [Fact]
        public void IsOffline_Option_SaysWhy()
        {
            Assert.Equal((true, "PretrainedWeightsOptions.Offline is true"), WeightsCache.IsOffline(WithEnvironment(new Dictionary<string, string>(), offline: true)));
        }

        [Theory]
        [InlineData(HttpStatusCode.InternalServerError, true)]
        [InlineData(HttpStatusCode.BadGateway, true)]
        [InlineData(HttpStatusCode.ServiceUnavailable, true)]
        [InlineData(HttpStatusCode.RequestTimeout, true)]
        [InlineData(HttpStatusCode.TooManyRequests, true)]
        [InlineData(HttpStatusCode.NotFound, false)]
        [InlineData(HttpStatusCode.Forbidden, false)]
        [InlineData(HttpStatusCode.Unauthorized, false)]
        public void IsTransient_RetriesServerFailuresOnly(HttpStatusCode status, bool expected)
        {
            Assert.Equal(expected, CheckpointDownloader.IsTransient(status));
        }

        [Theory]
        [InlineData("f37072fd47e89c5e", "f37072fd", true)]
        [InlineData("f37072fd47e89c5e", "F37072FD", true)]
        [InlineData("f37072fe47e89c5e", "f37072fd", false)]
        public void HashMatches_Prefix(string actual, string expected, bool matches)
        {
            Assert.Equal(matches, CheckpointDownloader.HashMatches(actual, expected));
        }

        [Fact]
        public void HashMatches_FullHash_ComparesEveryDigit()
        {
            string full = new string('a', 63) + "b";

            Assert.True(CheckpointDownloader.HashMatches(full, full));
            Assert.False(CheckpointDownloader.HashMatches(new string('a', 64), full));
        }

        [Fact]
        public void Options_Defaults_AreDocumentedValues()
        {
            var options = new PretrainedWeightsOptions();

            Assert.Null(options.CacheDirectory);
            Assert.False(options.Offline);
            Assert.Null(options.Progress);
            Assert.Equal(TimeSpan.FromSeconds(100), options.Timeout);
            Assert.Equal(3, options.MaxRetries);
            Assert.Equal(TimeSpan.FromSeconds(1), options.RetryDelay);
            Assert.Equal("https://download.pytorch.org/models/", options.BaseAddress.AbsoluteUri);
            Assert.Same(options, options.Validate());
        }

        [Fact]
        public void Validate_BadValues_ThrowNamingTheOption()
        {
            Assert.Equal("Timeout", Assert.Throws<ArgumentOutOfRangeException>(() => new PretrainedWeightsOptions { Timeout = TimeSpan.Zero }.Validate()).ParamName);
            Assert.Equal("MaxRetries", Assert.Throws<ArgumentOutOfRangeException>(() => new PretrainedWeightsOptions { MaxRetries = -1 }.Validate()).ParamName);
            Assert.Equal("RetryDelay", Assert.Throws<ArgumentOutOfRangeException>(() => new PretrainedWeightsOptions { RetryDelay = TimeSpan.FromSeconds(-1) }.Validate()).ParamName);
            Assert.Equal("BaseAddress", Assert.Throws<ArgumentException>(() => new PretrainedWeightsOptions { BaseAddress = new Uri("ftp://mirror/models/") }.Validate()).ParamName);
            Assert.Equal("CacheDirectory", Assert.Throws<ArgumentException>(() => new PretrainedWeightsOptions { CacheDirectory = " " }.Validate()).ParamName);
        }

        [Fact]
        public void DownloadProgress_UnknownTotal_HasNoFraction()
        {
            var known = new DownloadProgress("a.pth", 25, 100);
            var unknown = new DownloadProgress("a.pth", 25, null);

            Assert.Equal(0.25, known.Fraction);
            Assert.Null(unknown.Fraction);
            Assert.Equal("a.pth: 25 of 100 bytes", known.ToString());
            Assert.Equal("a.pth: 25 bytes", unknown.ToString());
        }
    }
}
