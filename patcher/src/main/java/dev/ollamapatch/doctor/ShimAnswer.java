package dev.ollamapatch.doctor;

import com.fasterxml.jackson.databind.JsonNode;

import java.util.ArrayList;
import java.util.List;

/**
 * What the installed shim itself answered to {@code nvml-shim-query} (shim/src/query): whether it
 * loaded, its {@code nvmlInit_v2} result, the mode it runs in, and the devices it reports; plus the
 * one line the shim wrote on stderr (its config diagnostics).
 */
public record ShimAnswer(String library, String configPath, boolean loaded, String loadError, int init,
                         String mode, String real, String driverVersion, Integer cudaDriverVersion,
                         List<Device> devices, String shimMessage) {

    public record Device(int index, String name, String uuid, String pciBusId, Long pciDeviceId,
                         Long memoryTotal, Long memoryFree, String computeCapability) {}

    public boolean initialised() {
        return loaded && init == 0;
    }

    static ShimAnswer parse(JsonNode n, String configPath, String stderr) {
        List<Device> devices = new ArrayList<>();
        for (JsonNode d : n.path("devices")) {
            devices.add(new Device(d.path("index").asInt(), text(d, "name"), text(d, "uuid"), text(d, "pci_bus_id"),
                    d.has("pci_device_id") ? d.get("pci_device_id").asLong() : null,
                    d.has("memory_total") ? d.get("memory_total").asLong() : null,
                    d.has("memory_free") ? d.get("memory_free").asLong() : null, text(d, "compute_capability")));
        }
        String msg = stderr == null ? null : stderr.strip();
        return new ShimAnswer(text(n, "library"), configPath, n.path("loaded").asBoolean(), text(n, "load_error"),
                n.path("init").asInt(-1), text(n, "mode"), text(n, "real"), text(n, "driver_version"),
                n.has("cuda_driver_version") ? n.get("cuda_driver_version").asInt() : null, List.copyOf(devices),
                msg == null || msg.isEmpty() ? null : msg);
    }

    private static String text(JsonNode n, String key) {
        JsonNode v = n.get(key);
        return v == null || v.isNull() ? null : v.asText();
    }

    /** NVML's return codes, for messages. */
    static String nvmlCode(int rc) {
        return switch (rc) {
            case 0 -> "NVML_SUCCESS";
            case 1 -> "NVML_ERROR_UNINITIALIZED";
            case 2 -> "NVML_ERROR_INVALID_ARGUMENT";
            case 3 -> "NVML_ERROR_NOT_SUPPORTED";
            case 6 -> "NVML_ERROR_NOT_FOUND";
            case 9 -> "NVML_ERROR_DRIVER_NOT_LOADED";
            case 12 -> "NVML_ERROR_LIBRARY_NOT_FOUND";
            case 13 -> "NVML_ERROR_FUNCTION_NOT_FOUND";
            case 17 -> "NVML_ERROR_OPERATING_SYSTEM";
            case 18 -> "NVML_ERROR_LIB_RM_VERSION_MISMATCH";
            case 999 -> "NVML_ERROR_UNKNOWN";
            case -1 -> "no nvmlInit_v2 in the library";
            default -> "NVML error " + rc;
        };
    }
}
