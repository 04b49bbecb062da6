package dev.ollamapatch.doctor;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The host view against this machine's real loader cache and C library, and against fake roots. */
class HostTest {
    @TempDir
    Path tmp;

    static String run(String... cmd) throws Exception {
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes()).strip();
        assertEquals(0, p.waitFor(), String.join(" ", cmd) + ": " + out);
        return out;
    }

    @Test
    void loaderCacheAgreesWithLdconfig() throws Exception {
        // ldconfig -p prints "libc.so.6 (libc6,x86-64) => /lib/x86_64-linux-gnu/libc.so.6".
        String machine = ShimQuery.hostMachine();
        String abi = machine.equals("aarch64") ? "AArch64" : "x86-64";
        String line = run("/sbin/ldconfig", "-p").lines().filter(l -> l.strip().startsWith("libc.so.6 ") && l.contains(abi))
                .findFirst().orElseThrow();
        String path = line.substring(line.indexOf("=> ") + 3).strip();
        Host.Found f = Host.at(Path.of("/")).findLibrary("libc.so.6", machine).orElseThrow();
        assertEquals(path, f.hostPath());
        assertTrue(f.how().startsWith("/etc/ld.so.cache lists"), f.how());
        List<LdSoCache.Entry> all = LdSoCache.read(Path.of("/etc/ld.so.cache"));
        long ldconfigCount = run("/sbin/ldconfig", "-p").lines().filter(l -> l.contains(" => ")).count();
        assertEquals(ldconfigCount, all.size());
    }

    @Test
    void hostGlibcVersionIsWhatGetconfSays() throws Exception {
        String getconf = run("getconf", "GNU_LIBC_VERSION");  // "glibc 2.36"
        dev.ollamapatch.elf.GlibcVersion v = Doctor.hostGlibc(Host.at(Path.of("/")), ShimQuery.hostMachine()).orElseThrow();
        assertEquals(getconf.replace("glibc ", ""), Glibc.release(v));
    }

    @Test
    void aLoaderCacheThatIsNotOneIsNotReadAsOne() throws Exception {
        FakeRoot r = new FakeRoot(tmp).file("/etc/ld.so.cache", "garbage that is not a cache");
        assertTrue(Host.at(tmp).findLibrary("libcuda.so.1", "x86_64").isEmpty());
        r.file("/lib64/libcuda.so.1", "");
        assertEquals("/lib64/libcuda.so.1", Host.at(tmp).findLibrary("libcuda.so.1", "x86_64").orElseThrow().hostPath());
    }

    @Test
    void sysfsFunctionsAreReadAndFilteredToNvidiaDisplayControllers() throws Exception {
        new FakeRoot(tmp).nvidiaGpu("0000:00:05.0", 0x2331)
                .pci("0000:00:06.0", 0x10de, 0x22a3, 0x040300)   // the GPU's audio function
                .pci("0000:00:01.0", 0x8086, 0x7000, 0x060100)
                .pci("0000:00:02.0", 0x1234, 0x1111, 0x030000);
        List<PciFunction> gpus = Host.at(tmp).nvidiaGpus();
        assertEquals(1, gpus.size());
        assertEquals("00000000:00:05.0", gpus.get(0).nvmlBusId());
        assertEquals(4, Host.at(tmp).pciFunctions().size());
    }

    @Test
    void cpuFlagsOfTheFirstProcessor() throws Exception {
        new FakeRoot(tmp).cpu("fpu sse4_2 avx avx2");
        assertEquals(List.of("avx", "avx2", "fpu", "sse4_2"), List.copyOf(Host.at(tmp).cpuFlags().orElseThrow()));
        assertTrue(Host.at(tmp.resolve("none")).cpuFlags().isEmpty());
        assertTrue(Files.isDirectory(tmp));
    }

    /** systemd applies drop-ins in file-name order, and one in /etc replaces a vendor one of the same name. */
    @Test
    void aDropInInEtcReplacesTheVendorsOfTheSameName() throws Exception {
        FakeRoot r = new FakeRoot(tmp).file("/usr/lib/systemd/system/ollama.service", "[Service]\nExecStart=/usr/bin/ollama serve\n")
                .file("/usr/lib/systemd/system/ollama.service.d/gpu.conf", "[Service]\nEnvironment=OLLAMA_PATCH_SHIM_CONFIG=/vendor.conf\n")
                .file("/usr/lib/systemd/system/ollama.service.d/a.conf", "[Service]\nEnvironment=A=1\n")
                .file("/etc/systemd/system/ollama.service.d/gpu.conf", "[Service]\nEnvironment=OLLAMA_PATCH_SHIM_CONFIG=/admin.conf\n");
        assertEquals(List.of(r.path("/usr/lib/systemd/system/ollama.service"), r.path("/usr/lib/systemd/system/ollama.service.d/a.conf"),
                r.path("/etc/systemd/system/ollama.service.d/gpu.conf")), Host.at(tmp).unitFiles("ollama.service"));
        assertEquals("/admin.conf", SystemdUnit.read(Host.at(tmp), "ollama.service").environment().get("OLLAMA_PATCH_SHIM_CONFIG"));
    }
}
