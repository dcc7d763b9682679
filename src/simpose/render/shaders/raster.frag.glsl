#version 330 core
uniform int instance_id;
in vec3 f_next_h;
in vec3 f_color;
in vec2 f_bary12;
layout(location = 0) out float o_depth;   // camera z, metres
layout(location = 1) out vec2 o_flow;     // forward flow, pixels
layout(location = 2) out vec4 o_bary;     // perspective-correct barycentrics
layout(location = 3) out ivec2 o_ids;     // instance id (1..P), face index + 1
layout(location = 4) out vec4 o_color;    // lit colour (stored as 8-bit unorm)
void main() {
    vec2 flow = f_next_h.xy / f_next_h.z - (gl_FragCoord.xy - 0.5);
    if (!(f_next_h.z > 0.0)) flow = vec2(uintBitsToFloat(0x7fc00000u));
    o_depth = 1.0 / gl_FragCoord.w;
    o_flow = flow;
    o_bary = vec4(1.0 - f_bary12.x - f_bary12.y, f_bary12, 0.0);
    o_ids = ivec2(instance_id, gl_PrimitiveID + 1);
    o_color = vec4(clamp(f_color, 0.0, 1.0), 1.0);
}
