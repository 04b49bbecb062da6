package dev.ollamapatch.shim;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.Test;

/** The built libraries: exported dynamic symbols, SONAME, stripped, bundled as resources. */
class ExportsTest {
    /** The one list, read from the source file itself (the shim's exports, version script and ShimCheck come from it). */
    static final Set<String> INTENDED = new TreeSet<>(readList());

    static Set<String> readList() {
        try {
            return BundledShims.parseFunctionList(Files.readString(Native.MODULE.resolve("nvml-functions.txt")));
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    static Path shim(String machine) {
        return machine.equals("x86_64") ? Native.SHIM_X86_64 : Native.SHIM_AARCH64;
    }

    static String readelf(String... args) {
        List<String> cmd = new java.util.ArrayList<>(List.of("readelf", "-W"));
        cmd.addAll(List.of(args));
        Native.Result r = Native.run(cmd, Map.of(), 60);
        assertEquals(0, r.exitCode(), r.stderr());
        return r.stdout();
    }

    @ParameterizedTest
    @ValueSource(strings = {"x86_64", "aarch64"})
    void exportsExactlyTheIntendedFunctions(String machine) {
        Set<String> defined = new TreeSet<>();
        for (String line : readelf("--dyn-syms", shim(machine).toString()).split("\n")) {
            String[] f = line.trim().split("\\s+");
            // Num: Value Size Type Bind Vis Ndx Name
            boolean localSection = f.length >= 5 && f[3].equals("SECTION") && f[4].equals("LOCAL");  // aarch64 ld emits one for .init
            if (f.length >= 8 && f[0].matches("\\d+:") && !f[6].equals("UND") && !localSection) {
                assertEquals("FUNC", f[3], line);
                assertEquals("GLOBAL", f[4], line);
                assertEquals("DEFAULT", f[5], line);
                defined.add(f[7]);
            }
        }
        assertEquals(INTENDED, defined);
    }

    @ParameterizedTest
    @ValueSource(strings = {"x86_64", "aarch64"})
    void sonameMachineAndStripped(String machine) {
        String dyn = readelf("-d", shim(machine).toString());
        assertTrue(dyn.contains("Library soname: [libnvidia-ml.so.1]"), dyn);
        String header = readelf("-h", shim(machine).toString());
        assertTrue(header.contains(machine.equals("x86_64") ? "Advanced Micro Devices X86-64" : "AArch64"), header);
        assertTrue(header.contains("DYN (Shared object file)"), header);
        String sections = readelf("-S", shim(machine).toString());
        assertFalse(sections.contains(".symtab"), "not stripped");
        assertFalse(sections.contains(".debug_"), "has debug info");
    }

    @Test
    void theFunctionListCoversDesignSection6AndIsBundled() throws IOException {
        // DESIGN.md section 2 (every generation's lookups) and section 6 (the contract's extra names)
        for (String f : List.of("nvmlInit_v2", "nvmlShutdown", "nvmlDeviceGetHandleByUUID", "nvmlDeviceGetMemoryInfo",
                "nvmlDeviceGetName", "nvmlErrorString", "nvmlSystemGetDriverVersion", "nvmlDeviceGetHandleByIndex",
                "nvmlDeviceGetCount_v2", "nvmlDeviceGetCudaComputeCapability", "nvmlDeviceGetSerial",
                "nvmlDeviceGetVbiosVersion", "nvmlDeviceGetBoardPartNumber", "nvmlDeviceGetBrand", "nvmlInit",
                "nvmlInitWithFlags", "nvmlDeviceGetCount", "nvmlDeviceGetHandleByIndex_v2",
                "nvmlDeviceGetHandleByPciBusId_v2", "nvmlDeviceGetUUID", "nvmlDeviceGetPciInfo_v3", "nvmlDeviceGetIndex",
                "nvmlSystemGetCudaDriverVersion", "nvmlSystemGetCudaDriverVersion_v2", "nvmlSystemGetNVMLVersion",
                "nvmlDeviceGetMemoryInfo_v2")) {
            assertTrue(INTENDED.contains(f), f);
        }
        assertEquals(List.copyOf(readList()), List.copyOf(BundledShims.nvmlFunctions()), "the jar carries the list as it is");
        // the generated version script names exactly the list
        Set<String> inMap = new TreeSet<>();
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("^\\s+(nvml\\w+);$", java.util.regex.Pattern.MULTILINE)
                .matcher(Files.readString(Native.MODULE.resolve("target/native/gen/exports.map")));
        while (m.find()) {
            inMap.add(m.group(1));
        }
        assertEquals(INTENDED, inMap);
    }

    @Test
    void everyExportedFunctionIsDefinedInTheSourcesAndNoOtherIs() throws IOException {
        // the C sources define exactly the listed functions as EXPORT (the symbol table X(...) is generated)
        Set<String> defined = new TreeSet<>();
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("^EXPORT [^(]*?\\b(nvml\\w+)\\(", java.util.regex.Pattern.MULTILINE)
                .matcher(Files.readString(Native.SRC.resolve("nvml_shim.c")));
        while (m.find()) {
            defined.add(m.group(1));
        }
        assertEquals(INTENDED, defined);
    }

    @Test
    void aFunctionListLineThatIsNotANameIsRefused() {
        IllegalStateException e = org.junit.jupiter.api.Assertions.assertThrows(IllegalStateException.class,
                () -> BundledShims.parseFunctionList("nvmlInit\nnvml Init_v2 # oops\n"));
        assertEquals("nvml-functions.txt line 2: not an NVML function name: nvml Init_v2", e.getMessage());
        assertEquals(List.of("nvmlInit", "nvmlShutdown"),
                List.copyOf(BundledShims.parseFunctionList("# comment\n\n  nvmlInit   # A\nnvmlShutdown\n")));
    }

    @Test
    void bundledShimsAreTheBuiltLibraries() throws IOException {
        assertEquals(Set.of("x86_64", "aarch64"), BundledShims.machines());
        for (String machine : BundledShims.machines()) {
            try (InputStream in = BundledShims.open(machine).orElseThrow()) {
                assertArrayEquals(Files.readAllBytes(shim(machine)), in.readAllBytes(), machine);
            }
        }
        assertTrue(BundledShims.open("riscv64").isEmpty());
        assertTrue(BundledShims.open(null).isEmpty());
    }

    @Test
    void buildIsReproducible() throws IOException {
        // a second build of the same sources into another directory gives identical bytes
        Path other = Native.OUT.resolve("repro");
        Native.Result r = Native.run(List.of("make", "-s", "-C", Native.MODULE.toString(), "OUTROOT=" + other,
                "OBJROOT=" + other.resolve("obj"), "all"), Map.of(), 300);
        assertEquals(0, r.exitCode(), r.stdout() + r.stderr());
        for (String machine : BundledShims.machines()) {
            assertArrayEquals(Files.readAllBytes(shim(machine)), Files.readAllBytes(other.resolve(machine).resolve("nvml.so")), machine);
        }
    }
}
